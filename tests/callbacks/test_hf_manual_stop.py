"""A person's stop reaches a running Trainer within the promised bound, and a checkpoint is saved."""

from __future__ import annotations

import time

from losswatch.callbacks import LossWatchCallback
from tests.callbacks.conftest import NEVER_STOP, AtStep
from tests.tiny import overfitting_trainer

STEP_SECONDS = 0.05  # each step lasts at least this, so 2 s is at most 40 steps


def test_manual_stop_stops_the_trainer_within_two_seconds_and_saves(live_server, api, tmp_path) -> None:
    lw = LossWatchCallback(url=live_server.url, run_name="manual", early_stopping=NEVER_STOP)
    asked: dict[str, int] = {}

    def press_stop() -> None:
        asked["step"] = 10
        assert api.post(f"/runs/{lw.run_id}/stop", json={"reason": "looks done"}).status_code == 200

    out = tmp_path / "out"
    trainer = overfitting_trainer(
        str(out),
        [lw, AtStep({10: press_stop}, every=lambda s: time.sleep(STEP_SECONDS))],
        max_steps=400,
        eval_steps=1000,
        save_steps=1000,
        logging_steps=50,
    )
    trainer.train()
    stop = trainer.state.global_step
    assert asked["step"] < stop <= asked["step"] + int(2.0 / STEP_SECONDS)
    assert lw.stopped_at == stop
    assert (out / f"checkpoint-{stop}").is_dir()
    run = api.get(f"/runs/{lw.run_id}").json()
    assert run["status"] == "stopped" and run["decision"]["reason"] == "manual"
