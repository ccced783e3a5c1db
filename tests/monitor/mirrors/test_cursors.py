from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from losswatch.api.app import create_app
from losswatch.monitor.db import make_engine
from losswatch.monitor.mirrors import cursors
from losswatch.monitor.mirrors.worker import MirrorWorker
from losswatch.monitor.models import MirrorCursor
from losswatch.monitor.settings import Settings
from tests.conftest import LOCAL

from .conftest import curve, make_run, put
from .tb_reader import run_folders


def dead_owner() -> str:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return f"{cursors.HOST}/{proc.pid}/gone"


def test_lease_is_held_by_one_worker_at_a_time(engine: Engine) -> None:
    rid = make_run(engine, mirrors=["tensorboard"])
    assert cursors.acquire(engine, run_id=rid, target="tensorboard", owner="a/1/x", lease_seconds=60)
    assert not cursors.acquire(engine, run_id=rid, target="tensorboard", owner="b/2/y", lease_seconds=60)
    assert cursors.acquire(engine, run_id=rid, target="tensorboard", owner="a/1/x", lease_seconds=60)


def test_lease_expired_or_of_a_dead_local_process_is_taken_over(engine: Engine) -> None:
    rid = make_run(engine, mirrors=["tensorboard", "wandb"])
    assert cursors.acquire(engine, run_id=rid, target="tensorboard", owner="a/1/x", lease_seconds=-1)
    assert cursors.acquire(engine, run_id=rid, target="tensorboard", owner="b/2/y", lease_seconds=60)
    assert cursors.acquire(engine, run_id=rid, target="wandb", owner=dead_owner(), lease_seconds=3600)
    assert cursors.acquire(engine, run_id=rid, target="wandb", owner="b/2/y", lease_seconds=60)


def test_second_worker_leaves_a_leased_run_alone(engine: Engine, mirror_settings: Settings) -> None:
    rid = make_run(engine, mirrors=["tensorboard"])
    put(engine, rid, curve(50))
    first, second = MirrorWorker(engine, mirror_settings), MirrorWorker(engine, mirror_settings)
    assert cursors.acquire(engine, run_id=rid, target="tensorboard", owner=first.owner, lease_seconds=60)
    assert second.run_once() == 0
    assert run_folders(mirror_settings.tensorboard_root) == []
    assert first.run_once() == 1
    second.stop()
    first.stop()


def test_failure_backs_off_and_shows_in_get_run(tmp_path: Path, sqlite_url: str) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the TensorBoard folder should be")
    settings = Settings(
        database_url=sqlite_url,
        data_dir=tmp_path / "data",
        tensorboard_dir=blocker,
        mirror_worker=False,
        mirror_poll_seconds=0.5,
    )
    with TestClient(create_app(settings), base_url=LOCAL) as client:
        engine = client.app.state.engine  # type: ignore[attr-defined]
        rid = client.post("/api/v1/runs", json={"name": "r", "mirrors": ["tensorboard"]}).json()["id"]
        client.post(
            f"/api/v1/runs/{rid}/metrics",
            json={"points": [{"key": "loss", "step": s, "value": 1.0} for s in range(1, 11)]},
        )
        worker = MirrorWorker(engine, settings)
        assert worker.run_once() == 0
        [state] = client.get(f"/api/v1/runs/{rid}").json()["mirror_state"]
        assert state["target"] == "tensorboard" and state["errors"] == 1 and not state["in_sync"]
        assert "not-a-folder" in state["last_error"] and state["lag"] == 10 and state["last_step"] is None
        assert worker.run_once() == 0  # backing off: not retried at once
        blocker.unlink()
        [state] = client.get(f"/api/v1/runs/{rid}").json()["mirror_state"]
        assert state["errors"] == 1
        while time.time() < state["retry_at"]:
            time.sleep(0.02)
        assert worker.run_once() == 1
        [state] = client.get(f"/api/v1/runs/{rid}").json()["mirror_state"]
        assert state == {**state, "last_step": 10, "lag": 0, "in_sync": True, "last_error": None, "errors": 0}
        worker.stop()


def test_service_worker_mirrors_in_the_background(tmp_path: Path, sqlite_url: str) -> None:
    settings = Settings(
        database_url=sqlite_url, data_dir=tmp_path / "data", mirror_poll_seconds=0.05, mirrors=["tensorboard"]
    )
    with TestClient(create_app(settings), base_url=LOCAL) as client:
        rid = client.post("/api/v1/runs", json={"name": "default-mirrors"}).json()["id"]
        r = client.post(
            f"/api/v1/runs/{rid}/metrics",
            json={"points": [{"key": "loss", "step": s, "value": 1 / s} for s in range(1, 101)]},
        )
        assert r.status_code == 200
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            [state] = client.get(f"/api/v1/runs/{rid}").json()["mirror_state"]
            if state["in_sync"]:
                break
            time.sleep(0.05)
        assert state["in_sync"] and state["last_step"] == 100 and state["lag"] == 0


@pytest.mark.parametrize(
    ("default", "expected"),
    [
        ([], {"names-tb": ("tensorboard",), "names-both": ("wandb", "tensorboard")}),
        (
            ["tensorboard"],
            {"names-tb": ("tensorboard",), "names-both": ("wandb", "tensorboard"), "names-none": ("tensorboard",)},
        ),
    ],
    ids=["no-default", "default-tensorboard"],
)
def test_runs_to_mirror_reads_the_runs_that_have_a_mirror(db_url: str, default: list[str], expected: dict) -> None:
    eng = make_engine(db_url)
    try:
        for name, mirrors in (("names-tb", ["tensorboard"]), ("names-both", ["wandb", "tensorboard"])):
            make_run(eng, mirrors=mirrors, run_id=name)
        for i in range(30):  # what most services hold: runs that name no mirror
            make_run(eng, mirrors=[], run_id="names-none" if i == 0 else f"plain-{i}")
        with eng.connect() as conn:
            found = {i.id: i.targets for i in cursors.runs_to_mirror(conn, default=default)}
    finally:
        eng.dispose()
    if default:
        assert len(found) == 32 and {k: found[k] for k in expected} == expected
    else:
        assert found == expected


def test_lease_race_for_a_new_cursor_is_lost_quietly(postgres_url: str) -> None:
    # Two workers see no cursor row for a new run and both insert one: FOR UPDATE locks no row that is not
    # there. The second insert waits on the first's unique key, then fails; that worker simply has no lease.
    engine = make_engine(postgres_url)
    try:
        rid = make_run(engine, mirrors=["tensorboard"])
        t = MirrorCursor.__table__
        with engine.connect() as first:
            tx = first.begin()
            lease = {"lease_owner": "a/1/x", "lease_until": time.time() + 60, "updated_at": time.time()}
            first.execute(t.insert().values(run_id=rid, target="tensorboard", state={}, errors=0, **lease))
            with ThreadPoolExecutor(1) as pool:
                second = pool.submit(
                    cursors.acquire, engine, run_id=rid, target="tensorboard", owner="b/2/y", lease_seconds=60
                )
                time.sleep(0.5)  # its SELECT found nothing and its INSERT waits on the first's key
                tx.commit()
                assert second.result(timeout=30) is False
        with engine.connect() as conn:
            assert cursors.cursors(conn, run_id=rid)[(rid, "tensorboard")].lease_owner == "a/1/x"
    finally:
        engine.dispose()
