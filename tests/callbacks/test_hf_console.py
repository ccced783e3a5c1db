"""What the callback tells the person: the run's name and page at the start, the stop, and, in LLaMA-Factory's
web UI (which shows its output folder's running_log.txt, not the console), the same lines there."""

from __future__ import annotations

import logging

import pytest

from losswatch.callbacks import LossWatchCallback
from tests.callbacks.conftest import NEVER_STOP
from tests.tiny import overfitting_trainer

EAGER = {"compat": "hf", "patience": 1}


def test_console_names_the_run_after_its_folder_and_gives_its_page(
    live_server, api, tmp_path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # transformers 5 leaves run_name unset (so does LLaMA-Factory's web UI): every run was called "run", and
    # nothing said where to watch it.
    monkeypatch.delenv("LOSSWATCH_RUN_NAME", raising=False)
    caplog.set_level(logging.WARNING, logger="losswatch")
    lw = LossWatchCallback(url=live_server.url, early_stopping=NEVER_STOP)
    overfitting_trainer(str(tmp_path / "qwen-lora-sft"), [lw], max_steps=10).train()
    assert api.get(f"/runs/{lw.run_id}").json()["name"] == "qwen-lora-sft"
    said = [r.getMessage() for r in caplog.records]
    assert f"losswatch: run 'qwen-lora-sft', live at {live_server.url}/runs/{lw.run_id}" in said, said


@pytest.mark.parametrize("board", ["1", ""], ids=["web-ui", "cli"])
def test_stop_is_written_where_the_web_ui_shows_it(
    live_server, tmp_path, monkeypatch: pytest.MonkeyPatch, board: str
) -> None:
    monkeypatch.setenv("LLAMABOARD_ENABLED", board)
    out = tmp_path / "out"
    lw = LossWatchCallback(url=live_server.url, early_stopping=EAGER)
    trainer = overfitting_trainer(str(out), [lw], max_steps=200)
    trainer.train()
    assert trainer.state.global_step < 200
    log = out / "running_log.txt"
    if not board:
        assert not log.exists()
        return
    lines = log.read_text().splitlines()
    assert lines[0].startswith("losswatch: run 'out', live at ")
    assert lines[1].startswith(f"losswatch: stopping at step {trainer.state.global_step} (patience_exhausted)")


def test_config_sent_is_the_persons_with_keep_best_marked(live_server, api, tmp_path) -> None:
    # keep-best turns load_best_model_at_end on for the Trainer's own end-of-run load; the service was told
    # the person had set it, and advised that save_steps 25 / eval_steps 10 may leave the best unloadable.
    lw = LossWatchCallback(url=live_server.url, early_stopping=NEVER_STOP)
    trainer = overfitting_trainer(
        str(tmp_path / "out"), [lw], max_steps=10, eval_steps=10, save_steps=25, load_best_model_at_end=False
    )
    trainer.train()
    config = api.get(f"/runs/{lw.run_id}").json()["config"]
    assert config["load_best_model_at_end"] is False and config["losswatch_keep_best"] is True
    advice = api.get(f"/runs/{lw.run_id}/diagnostics", params={"key": "eval_loss"}).json()["advice"]
    assert not [a for a in advice if a["code"].startswith("save_eval")], advice
