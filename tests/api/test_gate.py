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


def test_gate_urgent_writes_go_ahead_of_queued_ones_in_their_own_order() -> None:
    async def scenario() -> list[str]:
        gate, order = WriteGate(5.0), []

        async def write(name: str, urgent: bool) -> None:
            async with gate.held(urgent=urgent):
                order.append(name)
                await asyncio.sleep(0)

        async with gate.held():
            tasks = []
            for name, urgent in [("a", False), ("b", False), ("STOP", True), ("c", False), ("PATCH", True)]:
                tasks.append(asyncio.create_task(write(name, urgent)))
                await asyncio.sleep(0)
        await asyncio.gather(*tasks)
        return order

    assert asyncio.run(scenario()) == ["STOP", "PATCH", "a", "b", "c"]


def test_gate_a_waiter_cancelled_as_its_turn_comes_passes_the_gate_on() -> None:
    async def scenario() -> list[str]:
        gate, order = WriteGate(5.0), []

        async def write(name: str) -> None:
            async with gate.held():
                order.append(name)

        async with gate.held():
            doomed = asyncio.create_task(write("doomed"))
            await asyncio.sleep(0)
            after = asyncio.create_task(write("after"))
            await asyncio.sleep(0)
        doomed.cancel()  # in the same loop iteration as the release that handed it the gate
        await asyncio.gather(doomed, after, return_exceptions=True)
        async with gate.held():  # and nothing is left holding it
            order.append("last")
        return order

    assert asyncio.run(asyncio.wait_for(scenario(), 5)) == ["after", "last"]


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
        portal.call(app.state.gate._acquire, False)  # another write of this process holds the gate
        try:
            r = c.post(f"/api/v1/runs/{rid}/metrics", json=point)
        finally:
            portal.call(app.state.gate._release)
        assert r.status_code == 503 and r.headers["retry-after"].isdigit()
        assert "busy with other writes" in r.json()["detail"]
        assert c.get(f"/api/v1/runs/{rid}/metrics").json()["keys"] == []
        r = c.post(f"/api/v1/runs/{rid}/metrics", json=point)
        assert r.status_code == 200 and r.json()["accepted"] == 1


# Every route that writes, with a body it accepts. Each must queue at the gate: left to SQLite's lock polling, a
# person's stop lost the lock to queued ingests until busy_timeout ran out.
WRITES = [
    pytest.param("post", "/api/v1/runs", {"name": "another"}, id="create-run"),
    pytest.param("post", "/api/v1/runs/{rid}/stop", {"reason": "a person"}, id="stop"),
    pytest.param("patch", "/api/v1/runs/{rid}", {"status": "finished"}, id="patch-run"),
    pytest.param("post", "/api/v1/runs/{rid}/heartbeat", {}, id="heartbeat"),
    pytest.param("post", "/api/v1/runs/{rid}/rewind", {"step": 0}, id="rewind"),
    pytest.param("put", "/api/v1/projects/default/notifications", {"targets": []}, id="notifications"),
    pytest.param("delete", "/api/v1/runs/{rid}", None, id="delete-run"),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_gate_every_write_route_waits_its_turn(
    sqlite_url: str, tmp_path: Path, method: str, path: str, body: dict | None
) -> None:
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path / "data", busy_timeout=0.3)
    app = create_app(settings)
    with TestClient(app, base_url=LOCAL) as c:
        rid = c.post("/api/v1/runs", json={"name": "x"}).json()["id"]
        url = path.format(rid=rid)
        portal = c.portal
        assert portal is not None
        portal.call(app.state.gate._acquire, False)
        try:
            r = c.request(method, url, json=body)
        finally:
            portal.call(app.state.gate._release)
        assert r.status_code == 503, r.text
        assert "busy with other writes" in r.json()["detail"]
        assert c.request(method, url, json=body).status_code < 300
