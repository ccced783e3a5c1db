"""SIGKILL of a real `losswatch serve` between an event and its delivery: after a restart the message is
delivered, once (acknowledged once; every copy carries the same id), and nothing is lost."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, free_port
from tests.receiver import Receiver

ENV = {
    "LOSSWATCH_NOTIFY_RETRY_SECONDS": "0.2",
    "LOSSWATCH_NOTIFY_MAX_BACKOFF": "0.5",
    "LOSSWATCH_PUBLIC_URL": "https://lw.example.org",
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    s = LiveServer(tmp_path / "server-data", env=ENV)
    yield s
    s.stop(kill=True)


def deliveries(url: str) -> list[dict[str, Any]]:
    return httpx.get(f"{url}/api/v1/projects/default/notifications/deliveries", timeout=10).json()["deliveries"]


def wait_done(url: str, timeout: float = 60.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = deliveries(url)
        if got and all(d["status"] == "done" for d in got):
            return got
        time.sleep(0.1)
    return deliveries(url)


def setup_run(url: str, receiver_url: str) -> None:
    r = httpx.put(
        f"{url}/api/v1/projects/default/notifications",
        json={"targets": [{"kind": "webhook", "url": receiver_url, "events": ["stop", "finished"]}]},
        timeout=10,
    )
    r.raise_for_status()
    httpx.post(f"{url}/api/v1/runs", json={"id": "victim", "name": "victim"}, timeout=10).raise_for_status()


def test_notify_kill_during_delivery_redelivers_once_after_restart(server: LiveServer) -> None:
    receiver = Receiver(script=[("hold", 200)]).start()  # holds the first request: the server dies waiting
    try:
        server.start(timeout=120)
        setup_run(server.url, receiver.url())
        httpx.post(f"{server.url}/api/v1/runs/victim/stop", json={"reason": "enough"}, timeout=10).raise_for_status()
        (first,) = receiver.wait(1, answered=False)
        server.stop(kill=True)
        receiver.release()  # the held request finds its sender gone: no answer reaches anyone
        server.start(timeout=120)
        (acked,) = receiver.wait(1)
        (row,) = wait_done(server.url)
    finally:
        receiver.stop()
    assert first["body"]["event"] == "stop" and first["body"]["decision"]["reason"] == "manual"
    assert acked["body"]["id"] == first["body"]["id"] == row["id"]
    assert [r["body"]["id"] for r in receiver.requests] == [row["id"]] * 2
    assert row["status"] == "done" and row["attempts"] == 0


def test_notify_kill_before_any_delivery_loses_nothing(server: LiveServer) -> None:
    port = free_port()  # nothing listens there yet: every attempt fails until the receiver starts
    server.start(timeout=120)
    setup_run(server.url, f"http://127.0.0.1:{port}/hook")
    httpx.patch(f"{server.url}/api/v1/runs/victim", json={"status": "finished"}, timeout=10).raise_for_status()
    deadline = time.monotonic() + 30
    while not (deliveries(server.url) and deliveries(server.url)[0]["attempts"] >= 1) and time.monotonic() < deadline:
        time.sleep(0.05)
    server.stop(kill=True)
    receiver = Receiver(port=port).start()
    try:
        server.start(timeout=120)
        (acked,) = receiver.wait(1)
        (row,) = wait_done(server.url)
    finally:
        receiver.stop()
    assert acked["body"]["event"] == "finished" and acked["body"]["url"] == "https://lw.example.org/runs/victim"
    assert acked["body"]["id"] == row["id"] and row["status"] == "done" and row["attempts"] >= 1
    assert len(receiver.requests) == 1
