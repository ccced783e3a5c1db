"""The service is missing or dies while a real Trainer runs: training goes on, nothing is lost or doubled."""

from __future__ import annotations

import time

import httpx

from losswatch.callbacks import LossWatchCallback
from losswatch.monitor.spool import Spool
from tests.callbacks.conftest import NEVER_STOP, AtStep, counts, logged, stored
from tests.conftest import LiveServer
from tests.tiny import overfitting_trainer


def _assert_everything_once(api: httpx.Client, run_id: str | None, history: list[dict]) -> None:
    for key in ("loss", "learning_rate", "eval_loss"):
        assert stored(api, run_id, key) == logged(history, key), key
    assert counts(api, run_id)["loss"] == len(logged(history, "loss"))


def test_service_down_at_start_then_up_midway_delivers_every_point_once(tmp_path) -> None:
    server = LiveServer(tmp_path / "server-data")  # its port is chosen, nothing listens yet
    lw = LossWatchCallback(url=server.url, run_name="late-service", early_stopping=NEVER_STOP)
    seen: dict[str, int] = {}

    def come_up() -> None:
        assert lw.client is not None
        seen["failures"] = lw.client.failures
        server.start()

    trainer = overfitting_trainer(str(tmp_path / "out"), [lw, AtStep({40: come_up})], max_steps=80)
    try:
        trainer.train()
        assert trainer.state.global_step == 80
        assert seen["failures"] > 0, "the service was down, so the sender must have failed at least once"
        with httpx.Client(base_url=server.url + "/api/v1") as api:
            assert api.get(f"/runs/{lw.run_id}").json()["status"] == "finished"
            _assert_everything_once(api, lw.run_id, trainer.state.log_history)
    finally:
        server.stop()


def test_service_killed_mid_run_and_restarted_loses_and_doubles_nothing(live_server, api) -> None:
    lw = LossWatchCallback(url=live_server.url, run_name="killed", early_stopping=NEVER_STOP)
    seen: dict[str, int] = {}

    def slow_while_down(step: int) -> None:
        if 30 < step < 60:
            time.sleep(0.05)  # keeps the outage long enough for the sender to hit it

    def restart() -> None:
        assert lw.client is not None
        seen["failures"] = lw.client.failures
        live_server.start()

    output = live_server.data_dir.parent / "out"
    trainer = overfitting_trainer(
        str(output),
        [lw, AtStep({30: lambda: live_server.stop(kill=True), 60: restart}, every=slow_while_down)],
        max_steps=90,
    )
    trainer.train()
    assert trainer.state.global_step == 90
    assert seen["failures"] > 0
    _assert_everything_once(api, lw.run_id, trainer.state.log_history)
    assert api.get(f"/runs/{lw.run_id}").json()["status"] == "finished"
    assert Spool(output / ".losswatch").unsent_bytes() == 0
