"""A training loop whose token is missing or wrong is told so, and how to fix it; training goes on."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from losswatch.callbacks.client import LossWatchClient
from tests.conftest import LiveServer


def test_client_without_token_says_to_set_one(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="losswatch")
    server = LiveServer(tmp_path / "data", args=["--auth", "required"]).start()
    try:
        lw = LossWatchClient(server.url, run_name="no-token", token="lw_not_a_token", spool_dir=tmp_path / "spool")
        lw.log(1, {"loss": 1.0})
        assert not lw.flush(3)  # nothing is delivered, nothing raises
        lw.close()
    finally:
        server.stop()
    said = "\n".join(r.getMessage() for r in caplog.records)
    assert f"losswatch at {server.url} refuses the token (HTTP 401" in said
    assert "set LOSSWATCH_TOKEN (or token=) to a token from `losswatch token create`" in said
    assert "cannot be reached" not in said
