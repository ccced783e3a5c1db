"""`losswatch import` of logs whose text no UTF-8 body can carry as it is, into a real server."""

from __future__ import annotations

from pathlib import Path

import httpx
from typer.testing import CliRunner

from losswatch.monitor.cli import app
from tests.conftest import LiveServer

runner = CliRunner()


def test_import_text_a_lone_surrogate_goes_as_a_question_mark(live_server: LiveServer, tmp_path: Path) -> None:
    # JSON may spell a lone UTF-16 surrogate ("\ud800"); Python reads it into a str that UTF-8 cannot encode.
    # It once failed the whole import with a UnicodeEncodeError traceback.
    state = tmp_path / "trainer_state.json"
    state.write_text(
        '{"global_step": 3, "best_model_checkpoint": "out/\\ud800", "log_history": ['
        '{"step": 1, "loss": 1.0, "\\ud800acc": 0.5}, {"step": 2, "loss": 0.8}, {"step": 3, "loss": 0.7}]}'
    )
    result = runner.invoke(app, ["import", str(state), "--url", live_server.url, "--no-progress"])
    assert result.exit_code == 0, result.output
    run = httpx.get(f"{live_server.url}/api/v1/runs", params={"limit": 100}).json()["runs"]
    rid = next(r["id"] for r in run if r["id"] in result.output)
    keys = httpx.get(f"{live_server.url}/api/v1/runs/{rid}/metrics").json()["keys"]
    names = {k["key"] if isinstance(k, dict) else k for k in keys}
    assert "loss" in names and "?acc" in names
    assert httpx.get(f"{live_server.url}/api/v1/runs/{rid}/metrics/loss").json()["total"] == 3
