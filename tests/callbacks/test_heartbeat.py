"""The client's heartbeat: a run that is alive but logs nothing (a long evaluation) is not called stale;
a run whose process is gone is."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from losswatch.callbacks.client import LossWatchClient
from tests.conftest import LiveServer

STALE_AFTER = 2.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    s = LiveServer(tmp_path / "server-data", env={"LOSSWATCH_STALE_AFTER": str(STALE_AFTER)}).start(timeout=120)
    yield s
    s.stop()


def status(server: LiveServer, run_id: str) -> str:
    return httpx.get(f"{server.url}/api/v1/runs/{run_id}", timeout=10).json()["status"]


def test_heartbeat_keeps_a_silent_live_run_running_and_a_dead_one_turns_stale(
    server: LiveServer, tmp_path: Path
) -> None:
    client = LossWatchClient(server.url, run_name="long-eval", spool_dir=tmp_path / "spool")
    client.log(1, {"loss": 2.0})
    assert client.flush(10)
    seen = set()
    quiet_until = time.monotonic() + 3 * STALE_AFTER  # "evaluating": nothing logged for three stale periods
    while time.monotonic() < quiet_until:
        seen.add(status(server, client.run_id))
        time.sleep(0.2)
    assert seen == {"running"}

    # What a killed process leaves behind: no status said, no more heartbeats (close() would say "finished").
    client._sender.close(5)
    deadline = time.monotonic() + 30
    while status(server, client.run_id) != "stale" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert status(server, client.run_id) == "stale"
    client_again = LossWatchClient(server.url, run_name="long-eval", run_id=client.run_id, spool_dir=tmp_path / "s2")
    client_again.log(2, {"loss": 1.9})
    assert client_again.flush(10)
    assert status(server, client.run_id) == "running"
    client_again.close()
    assert status(server, client.run_id) == "finished"
