"""Small SQLite batches are written on the event loop (api/inline.py): they answer exactly as a worker thread's
write does, what could hold the loop (another writer's lock, costly checks) still goes to a thread, and the WAL
is checkpointed although these connections never checkpoint on commit."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from losswatch.api.app import create_app
from losswatch.api.inline import CHECKPOINT_FRAMES, inline_writer
from losswatch.monitor.settings import Settings
from tests.conftest import LOCAL, LiveServer
from tests.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def loss(start: int, n: int) -> dict[str, Any]:
    steps = list(range(start, start + n))
    return {"series": [{"key": "loss", "steps": steps, "values": [3.0 / (1 + s / 500) for s in steps]}]}


def overwrite(step: int, value: float) -> dict[str, Any]:
    return {"points": [{"key": "loss", "step": step, "value": value}]}


def evals(*pairs: tuple[int, float]) -> dict[str, Any]:
    return {"points": [{"key": "eval_loss", "step": s, "value": v} for s, v in pairs]}


# (batch, written on the loop?) under the default policy (rule "forecast", monitor eval_loss) and the 5 ms budget
BATCHES = [
    pytest.param([(loss(1, 1000), True)], id="1000-loss-points-inline"),
    pytest.param([(loss(1, 5000), True)], id="5000-loss-points-at-the-budget-inline"),
    pytest.param([(loss(1, 5001), False)], id="5001-loss-points-beyond-the-budget-thread"),
    pytest.param([(evals((100, 2.0)), False)], id="one-forecast-check-thread"),
    pytest.param(
        [
            (loss(1, 100), True),
            (evals((100, 2.0)), False),
            (loss(101, 100), True),
            (evals((200, 1.8)), False),
            (loss(150, 100), True),  # 50 duplicates, 50 new
            (evals((200, 1.9)), False),  # overwritten
            ({**loss(250, 10), "batch_id": "b1"}, True),
            ({**loss(250, 10), "batch_id": "b1"}, True),  # a retry: nothing changes
            (evals((300, 2.1), (400, 2.3), (500, 2.6)), False),  # overfits: stops
            (loss(501, 10), True),
        ],
        id="training-with-evaluations-duplicates-retry-and-a-stop",
    ),
    pytest.param(
        [
            (loss(1, 5000), True),
            (loss(5001, 5000), True),
            (overwrite(100, 9.0), True),  # its extremes read again from 10k points: 3 ms
            (loss(10001, 5000), True),
            (loss(15001, 5000), True),
            (overwrite(200, 9.5), False),  # from 20k points: 6 ms, beyond the budget
            (loss(20001, 1), True),
        ],
        id="an-overwrite-on-a-long-key-goes-to-a-thread",
    ),
]


@pytest.mark.parametrize("batches", BATCHES)
def test_inline_answers_as_the_thread_path_does(tmp_path: Path, batches: list[tuple[dict, bool]]) -> None:
    answers: dict[float, list[dict]] = {}
    for budget in (5.0, 0.0):
        url = f"sqlite:///{tmp_path / f'budget-{budget}.db'}"
        settings = Settings(database_url=url, data_dir=tmp_path / "data", inline_ms=budget)
        app = create_app(settings)
        with TestClient(app, base_url=LOCAL) as c:
            rid = c.post("/api/v1/runs", json={"name": "x", "config": {"max_steps": 1000}}).json()["id"]
            got = []
            for body, on_loop in batches:
                before = app.state.inline.batches if budget else 0
                r = c.post(f"/api/v1/runs/{rid}/metrics", json=body)
                assert r.status_code == 200, r.text
                if budget:
                    assert app.state.inline.batches - before == on_loop, body
                got.append(r.json())
            got.append(c.get(f"/api/v1/runs/{rid}/metrics").json())
            answers[budget] = got
            if not budget:
                assert app.state.inline is None
    assert answers[5.0] == answers[0.0]


def test_inline_a_key_a_rewind_emptied_takes_points_again(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'lw.db'}", data_dir=tmp_path / "data")
    app = create_app(settings)
    with TestClient(app, base_url=LOCAL) as c:
        rid = c.post("/api/v1/runs", json={"name": "x"}).json()["id"]
        assert c.post(f"/api/v1/runs/{rid}/metrics", json=loss(1, 100)).status_code == 200
        assert c.post(f"/api/v1/runs/{rid}/rewind", json={"step": 0}).json()["deleted"] == 100
        before = app.state.inline.batches
        r = c.post(f"/api/v1/runs/{rid}/metrics", json=loss(1, 10))
        assert r.status_code == 200 and r.json()["accepted"] == 10, r.text
        assert app.state.inline.batches == before + 1


@pytest.mark.parametrize(
    "url,inline",
    [
        ("sqlite:////tmp/x/losswatch.db", True),
        ("sqlite+pysqlite:////tmp/x/losswatch.db", True),
        ("sqlite://", False),
        ("sqlite:///:memory:", False),
        ("postgresql+psycopg://u@127.0.0.1/db", False),
    ],
    ids=["sqlite-file", "sqlite-driver-named", "sqlite-memory-default", "sqlite-memory", "postgresql"],
)
def test_inline_only_for_a_sqlite_file(url: str, inline: bool) -> None:
    writer = inline_writer(url, 5.0)
    assert (writer is not None) is inline
    assert inline_writer(url, 0.0) is None
    if writer is not None:
        writer.dispose()


def test_inline_loop_keeps_answering_while_another_writer_holds_the_lock(live_server: LiveServer) -> None:
    c = httpx.Client(base_url=live_server.url, timeout=30)
    rid = c.post("/api/v1/runs", json={"name": "x"}).json()["id"]
    db = sqlite3.connect(live_server.data_dir / "losswatch.db", isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    answer: list[httpx.Response] = []
    # A batch small enough for the loop meets the held lock: it must wait on a thread, not on the loop.
    poster = threading.Thread(
        target=lambda: answer.append(httpx.post(f"{live_server.url}/api/v1/runs/{rid}/metrics", json=loss(1, 3)))
    )
    poster.start()
    try:
        poster.join(0.5)
        assert poster.is_alive(), "the batch did not wait for the lock"
        # Had the batch waited on the loop, nothing would answer until the lock was released (or busy_timeout,
        # 10 s, passed); this request's own 5 s would run out first.
        assert c.get("/healthz", timeout=5).status_code == 200
        assert poster.is_alive()
    finally:
        db.execute("ROLLBACK")
        db.close()
    poster.join(30)
    assert answer and answer[0].status_code == 200 and answer[0].json()["accepted"] == 3
    # The loop's connection that met the lock is whole again: the next batch goes in.
    r = c.post(f"/api/v1/runs/{rid}/metrics", json=loss(4, 3))
    assert r.status_code == 200 and r.json()["accepted"] == 3
    assert c.get(f"/api/v1/runs/{rid}/metrics").json()["keys"][0]["count"] == 6


def test_inline_writes_are_checkpointed(live_server: LiveServer) -> None:
    c = httpx.Client(base_url=live_server.url, timeout=30)
    rid = c.post("/api/v1/runs", json={"name": "x"}).json()["id"]
    wal = live_server.data_dir / "losswatch.db-wal"
    # About 12 WAL pages a batch: 5 checkpoints' worth. Unchecked, the WAL would pass 20 MB.
    batches = 5 * CHECKPOINT_FRAMES // 12
    for i in range(batches):
        assert c.post(f"/api/v1/runs/{rid}/metrics", json=loss(1 + 800 * i, 800)).status_code == 200
    # A checkpoint lets the next writer start the WAL over from its beginning, so the file stays near the
    # pages written between two checkpoints (4 KiB each).
    assert wal.stat().st_size < 2.5 * CHECKPOINT_FRAMES * 4096
    assert c.get(f"/api/v1/runs/{rid}/metrics").json()["keys"][0]["count"] == 800 * batches


def test_inline_stop_wakes_the_notifier_at_once(tmp_path: Path, receiver: Receiver) -> None:
    # The worker polls once a minute here: only the commit's wake-up can deliver the stop within the wait.
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'lw.db'}",
        data_dir=tmp_path / "data",
        notify_poll_seconds=60.0,
        notify_cooldown=0,
    )
    app = create_app(settings)
    with TestClient(app, base_url=LOCAL) as c:
        targets = {"targets": [{"kind": "webhook", "url": receiver.url(), "events": ["stop"]}]}
        assert c.put("/api/v1/projects/default/notifications", json=targets).status_code == 200
        rid = c.post("/api/v1/runs", json={"name": "x"}).json()["id"]
        r = c.post(f"/api/v1/runs/{rid}/metrics", json={"points": [{"key": "loss", "step": 1, "value": "NaN"}]})
        assert r.status_code == 200 and r.json()["decision"]["should_stop"] is True
        assert app.state.inline.batches == 1
        (got,) = receiver.wait(1, timeout=20)
        assert got["body"]["event"] == "stop" and got["body"]["run_id"] == rid


def test_inline_checkpoint_failure_is_logged_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "db"
    writer = inline_writer(f"sqlite:///{folder / 'lw.db'}", 5.0)
    assert writer is not None
    shutil.rmtree(folder)  # the database cannot be opened any more
    with caplog.at_level(logging.WARNING, logger="losswatch"):
        writer.checkpoint()
    assert "checkpoint failed" in caplog.text
    writer.dispose()
