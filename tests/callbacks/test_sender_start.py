"""What a training run asks of the service: its creation answer carries the start advice and the
service's stale_after, so the sender sends the run, its points and its end, and nothing else (each
extra request is CPU taken from the training run, bench/callback_overhead.py). An older service that
answers neither still gets asked, as before."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from losswatch.callbacks import LossWatchCallback
from losswatch.callbacks.client import LossWatchClient
from tests.callbacks.conftest import NEVER_STOP
from tests.receiver import serving
from tests.tiny import overfitting_trainer


def requests_served(url: str) -> Counter[tuple[str, str]]:
    served: Counter[tuple[str, str]] = Counter()
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics", timeout=10).text):
        for sample in family.samples:
            if sample.name == "losswatch_http_requests_total":
                served[(sample.labels["method"], sample.labels["route"])] += int(sample.value)
    return served


def test_sender_a_trainer_run_sends_its_run_points_and_end_only(
    live_server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="losswatch")
    before = requests_served(live_server.url)
    # poll_interval: a slow machine must not make a light decision poll part of what is counted.
    cb = LossWatchCallback(url=live_server.url, run_name="counted", early_stopping=NEVER_STOP, poll_interval=600)
    trainer = overfitting_trainer(
        str(tmp_path / "out"), [cb], max_steps=12, eval_strategy="no", save_strategy="no", load_best_model_at_end=False
    )
    trainer.train()
    served = requests_served(live_server.url) - before
    served.pop(("GET", "/metrics"), None)
    run = "/api/v1/runs/{run_id}"
    assert served[("POST", "/api/v1/runs")] == 1
    assert served[("POST", f"{run}/metrics")] >= 1
    assert served[("PATCH", run)] == 1
    assert set(served) == {("POST", "/api/v1/runs"), ("POST", f"{run}/metrics"), ("PATCH", run)}, served
    # The advice still reached the person: this run has no validation set.
    said = "\n".join(r.getMessage() for r in caplog.records)
    assert "losswatch advice [no_validation]" in said
    status = httpx.get(f"{live_server.url}/api/v1/runs/{cb.run_id}", timeout=10).json()["status"]
    assert status == "finished"


class OlderService(BaseHTTPRequestHandler):
    """A service from before the creation answer carried advice and stale_after."""

    seen: list[tuple[str, str]] = []

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _read(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_POST(self) -> None:
        self._read()
        self.seen.append(("POST", self.path))
        if self.path == "/api/v1/runs":
            self._answer(201, {"id": "old", "status": "running"})
        elif self.path.endswith("/heartbeat"):
            self._answer(200, {"status": "running", "stale_after": 8.0, "last_seen_at": 0})
        else:
            self._answer(200, {"accepted": 1, "duplicates": 0, "overwritten": 0, "decision": {"should_stop": False}})

    def do_GET(self) -> None:
        self.seen.append(("GET", self.path.split("?")[0]))
        advice = [{"code": "from_the_diagnosis", "kind": "advice", "message": "asked the old way"}]
        self._answer(200, {"advice": advice, "decision": {"should_stop": False}})

    def do_PATCH(self) -> None:
        self._read()
        self.seen.append(("PATCH", self.path))
        self._answer(200, {"id": "old", "status": "finished"})

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def older_service() -> Iterator[str]:
    OlderService.seen = []
    with serving(OlderService) as url:
        yield url


def test_sender_asks_an_older_service_for_advice_and_its_stale_after(
    older_service: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="losswatch")
    client = LossWatchClient(older_service, run_id="old", spool_dir=tmp_path / "spool", poll_interval=600)
    client.log(1, {"loss": 2.0})
    assert client.flush(10)
    client.close()
    assert ("GET", "/api/v1/runs/old/diagnostics") in OlderService.seen
    assert ("POST", "/api/v1/runs/old/heartbeat") in OlderService.seen
    assert client.advice == [{"code": "from_the_diagnosis", "kind": "advice", "message": "asked the old way"}]
    assert "asked the old way" in "\n".join(r.getMessage() for r in caplog.records)
    assert client._sender._heartbeat.interval == 2.0


def test_sender_a_resumed_run_gets_the_advice_of_its_points(
    live_server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = LossWatchClient(live_server.url, run_name="resumed", spool_dir=tmp_path / "s1", poll_interval=600)
    first.log(10, {"loss": 2.0, "eval_loss": 2.1})
    assert first.flush(10)
    first.close()
    caplog.clear()
    caplog.set_level(logging.WARNING, logger="losswatch")
    again = LossWatchClient(
        live_server.url, run_name="resumed", run_id=first.run_id, spool_dir=tmp_path / "s2", poll_interval=600
    )
    again.log(11, {"loss": 1.9})
    assert again.flush(10)
    again.close()
    # It has logged a validation loss: the configuration alone (none here) would have said it has none.
    assert "No validation loss has been logged" not in "\n".join(r.getMessage() for r in caplog.records)
    diagnosis = httpx.get(f"{live_server.url}/api/v1/runs/{first.run_id}/diagnostics", params={"key": "loss"})
    assert again.advice is not None and all(a in diagnosis.json()["advice"] for a in again.advice)
