"""One request cannot hold the database for long: a busy database is a 503 with Retry-After (never a 500),
the stopping work of a batch and of a replay is bounded (413 beyond it, before anything is written), and
another run's write during the largest allowed batch gets its answer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from losswatch.api.app import create_app
from losswatch.monitor.budget import check_ms
from losswatch.monitor.policy import Policy
from losswatch.monitor.settings import Settings
from tests.conftest import LOCAL, LiveServer


@contextmanager
def held_lock(url: str, run_id: str) -> Iterator[None]:
    """Another writer holding what an ingest of `run_id` needs: SQLite's write lock, PostgreSQL's run row."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if url.startswith("sqlite"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")
            conn.execute(text("SELECT id FROM runs WHERE id = :id FOR UPDATE"), {"id": run_id})
        try:
            yield
        finally:
            conn.exec_driver_sql("ROLLBACK")
    engine.dispose()


def test_busy_database_is_503_with_retry_after(settings: Settings, db_url: str) -> None:
    with TestClient(create_app(settings.model_copy(update={"busy_timeout": 0.3})), base_url=LOCAL) as c:
        rid = c.post("/api/v1/runs", json={"name": "x"}).json()["id"]
        with held_lock(db_url, rid):
            r = c.post(f"/api/v1/runs/{rid}/metrics", json={"points": [{"key": "loss", "step": 1, "value": 1.0}]})
            assert r.status_code == 503 and r.headers["retry-after"].isdigit() and "busy" in r.json()["detail"]
        r = c.post(f"/api/v1/runs/{rid}/metrics", json={"points": [{"key": "loss", "step": 1, "value": 1.0}]})
        assert r.status_code == 200 and r.json()["accepted"] == 1


@pytest.mark.parametrize(
    "policy,n",
    [({}, 50_000), ({"rule": "trend", "trend_window": 1000}, 4_000)],
    ids=["default-50k-improving", "trend-window-1000-4k"],
)
def test_busy_batch_beyond_the_stopping_budget_is_413_and_writes_nothing(
    client: TestClient, policy: dict, n: int
) -> None:
    rid = client.post("/api/v1/runs", json={"name": "x", "early_stopping": policy}).json()["id"]
    pts = [{"key": "eval_loss", "step": s, "value": 10.0 / s} for s in range(1, n + 1)]
    r = client.post(f"/api/v1/runs/{rid}/metrics", json={"points": pts})
    assert r.status_code == 413 and "max_check_ms" in r.json()["detail"] and "eval_loss" in r.json()["detail"]
    assert client.get(f"/api/v1/runs/{rid}/metrics").json()["keys"] == []


def test_busy_replay_beyond_its_budget_is_413(settings: Settings) -> None:
    with TestClient(create_app(settings.model_copy(update={"max_replay_ms": 100.0})), base_url=LOCAL) as c:
        rid = c.post("/api/v1/runs", json={"name": "x", "early_stopping": {"rule": "best"}}).json()["id"]
        pts = [{"key": "eval_loss", "step": s, "value": 10.0 / s} for s in range(1, 501)]
        assert c.post(f"/api/v1/runs/{rid}/metrics", json={"points": pts}).status_code == 200
        assert c.post(f"/api/v1/runs/{rid}/replay", json={"early_stopping": {"rule": "best"}}).status_code == 200
        r = c.post(f"/api/v1/runs/{rid}/replay", json={"early_stopping": {"rule": "trend", "trend_window": 300}})
        assert r.status_code == 413 and "max_check_ms" in r.json()["detail"]


def largest_allowed_batch(settings: Settings) -> list[dict]:
    """max_batch_points points, as many of them eval_loss checks as the default policy's budget allows."""
    checks = int(settings.max_check_ms // check_ms(Policy()))
    evals = [{"key": "eval_loss", "step": s, "value": 10.0 / s} for s in range(1, checks + 1)]
    rest = settings.max_batch_points - len(evals)
    return evals + [{"key": "loss", "step": s, "value": 10.0 / s} for s in range(1, rest + 1)]


def test_busy_bystander_is_answered_during_the_largest_allowed_batch(tmp_path: Path) -> None:
    settings = Settings()
    server = LiveServer(tmp_path / "data").start()
    try:
        with httpx.Client(base_url=server.url + "/api/v1", timeout=120) as http:
            big = http.post("/runs", json={"name": "big"}).json()["id"]
            small = http.post("/runs", json={"name": "bystander"}).json()["id"]
            body = {"points": largest_allowed_batch(settings)}
            answer: dict[str, httpx.Response] = {}
            sender = threading.Thread(target=lambda: answer.update(big=http.post(f"/runs/{big}/metrics", json=body)))
            sender.start()
            answers: list[httpx.Response] = []
            step = 0
            # Writes of another run while the big batch is in flight (at least one, whatever the timing).
            while sender.is_alive() or not answers:
                step += 1
                r = http.post(f"/runs/{small}/metrics", json={"points": [{"key": "loss", "step": step, "value": 1.0}]})
                answers.append(r)
            sender.join()
        assert answer["big"].status_code == 200, answer["big"].text
        assert answer["big"].json()["accepted"] == settings.max_batch_points
        for r in answers:
            assert r.status_code == 200 or (r.status_code == 503 and r.headers["retry-after"].isdigit()), r.text
        took = sum(1 for r in answers if r.status_code == 200)
        stored = httpx.get(f"{server.url}/api/v1/runs/{small}/metrics").json()["keys"]
        assert (stored[0]["count"] if stored else 0) == took
    finally:
        server.stop()
