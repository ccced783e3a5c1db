"""The advice LossWatchClient prints when its run starts: only what is true of the run at that moment."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from losswatch.callbacks.client import LossWatchClient


@pytest.mark.parametrize(
    ("early_stopping", "scolded"),
    [({"monitor": "val_loss"}, False), (None, True)],
    ids=["monitors-val_loss", "no-validation-anywhere"],
)
def test_client_advice_at_step_1_does_not_claim_a_missing_validation_it_was_told_about(
    live_server, tmp_path: Path, caplog: pytest.LogCaptureFixture, early_stopping: dict | None, scolded: bool
) -> None:
    caplog.set_level(logging.WARNING, logger="losswatch")
    lw = LossWatchClient(
        live_server.url,
        run_name="loop",
        early_stopping=early_stopping,
        config={"per_device_train_batch_size": 8},
        spool_dir=tmp_path / "spool",
    )
    lw.log(1, {"loss": 2.0})
    assert lw.flush(10)
    lw.close()
    said = "\n".join(r.getMessage() for r in caplog.records)
    assert ("No validation loss has been logged" in said) is scolded
    assert "Effective batch size" not in said  # a fact for the page, not a warning at start
    assert lw.advice is not None
