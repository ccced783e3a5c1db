"""SQLite writes of one process queue at the gate (api/gate.py) in the order they came; one that would wait longer
than busy_timeout is a 503 with Retry-After that stores nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from losswatch.api.app import create_app
from losswatch.api.gate import WriteGate, write_gate
from losswatch.monitor.errors import Busy
from losswatch.monitor.settings import Settings
from tests.conftest import LOCAL


def test_gate_lets_writes_through_in_the_order_they_came() -> None:
    async def scenario() -> list[str]:
        gate, order = WriteGate(5.0), []

        async def write(name: str) -> None:
            async with gate.held():
                order.append(name)
                await asyncio.sleep(0)

        async with gate.held():
            tasks = []
            for name in "abcdefgh":
                tasks.append(asyncio.create_task(write(name)))
                await asyncio.sleep(0)  # each is queued before the next arrives
        await asyncio.gather(*tasks)
        return order

    assert asyncio.run(scenario()) == list("abcdefgh")


def test_gate_a_write_queued_past_its_timeout_is_busy_and_leaves_the_gate_free() -> None:
    async def scenario() -> str:
        gate = WriteGate(0.05)
        async with gate.held():
            with pytest.raises(Busy) as caught:
                async with gate.held():
                    pass
        async with gate.held():  # nothing left held by the one that gave up
            return str(caught.value)

    assert "busy with other writes" in asyncio.run(scenario())


def test_gate_only_sqlite_has_one(sqlite_url: str) -> None:
    assert write_gate(sqlite_url, 1.0) is not None
    assert write_gate("postgresql+psycopg://u@127.0.0.1/db", 1.0) is None


def test_gate_a_batch_queued_past_busy_timeout_is_503_and_stores_nothing(sqlite_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path / "data", busy_timeout=0.3)
    app = create_app(settings)
    # An evaluation under the default (forecast) rule is more work than the loop takes on: it goes to a thread,
    # through the gate.
    point = {"points": [{"key": "eval_loss", "step": 10, "value": 1.0}]}
    with TestClient(app, base_url=LOCAL) as c:
        rid = c.post("/api/v1/runs", json={"name": "x"}).json()["id"]
        portal = c.portal
        assert portal is not None
        portal.call(app.state.gate._lock.acquire)  # another write of this process holds the gate
        try:
            r = c.post(f"/api/v1/runs/{rid}/metrics", json=point)
        finally:
            portal.call(app.state.gate._lock.release)
        assert r.status_code == 503 and r.headers["retry-after"].isdigit()
        assert "busy with other writes" in r.json()["detail"]
        assert c.get(f"/api/v1/runs/{rid}/metrics").json()["keys"] == []
        r = c.post(f"/api/v1/runs/{rid}/metrics", json=point)
        assert r.status_code == 200 and r.json()["accepted"] == 1
