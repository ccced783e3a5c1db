"""The URL reaches something that is not losswatch (a redirect, a proxy's page, an odd JSON answer): the real
Trainer runs to its end, nothing it is told is acted on, and the sender counts the deliveries as failed (so the
waits for a decision at each evaluation and at the end are cut short, as when the service is down)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from losswatch.callbacks import LossWatchCallback
from tests.callbacks.conftest import NEVER_STOP, AtStep
from tests.receiver import serving
from tests.tiny import overfitting_trainer

ANSWERS = {
    "redirect": (301, {"Location": "https://127.0.0.1:1/"}, b""),
    "html-page": (200, {"Content-Type": "text/html"}, b"<html><body>Sign in</body></html>"),
    "json-string": (200, {"Content-Type": "application/json"}, b'"ok"'),
    "decision-not-an-object": (
        200,
        {"Content-Type": "application/json"},
        json.dumps({"id": "x", "accepted": 1, "decision": "stop"}).encode(),
    ),
}


@pytest.fixture
def foreign(request: pytest.FixtureRequest) -> Iterator[str]:
    status, headers, body = ANSWERS[request.param]

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_PUT = _answer  # noqa: N815 - the stdlib's names

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as url:
        yield url


# An answer shaped like an ingest answer is taken as delivered: only its decision, not an object, is dropped.
@pytest.mark.parametrize(
    ("foreign", "fails"), [(kind, kind != "decision-not-an-object") for kind in ANSWERS], indirect=["foreign"]
)
def test_hf_foreign_answers_are_failures_not_decisions(foreign: str, fails: bool, tmp_path: Path) -> None:
    lw = LossWatchCallback(
        url=foreign, run_name="foreign", early_stopping=NEVER_STOP, spool_dir=str(tmp_path / "spool")
    )
    seen: dict[str, int] = {}

    def look() -> None:
        assert lw.client is not None
        lw.client.flush(5)
        seen["failures"] = lw.client.failures

    trainer = overfitting_trainer(str(tmp_path / "out"), [lw, AtStep({18: look})], max_steps=20, save_steps=1000)
    trainer.train()
    assert trainer.state.global_step == 20 and lw.stopped_at is None
    assert (seen["failures"] > 0) == fails
