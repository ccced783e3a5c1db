"""A real Trainer, a real service on loopback: losswatch stops where transformers' own callback would."""

from __future__ import annotations

import httpx
from transformers import EarlyStoppingCallback

from losswatch.callbacks import LossWatchCallback
from tests.tiny import overfitting_trainer


def test_callback_stops_where_transformers_would_and_stores_every_loss(live_server, tmp_path) -> None:
    reference = overfitting_trainer(str(tmp_path / "ref"), [EarlyStoppingCallback(early_stopping_patience=2)])
    reference.train()
    expected_stop = reference.state.global_step
    assert expected_stop < 120, "the tiny run must overfit for this test to mean anything"

    lw = LossWatchCallback(
        url=live_server.url, project="e2e", run_name="tiny", early_stopping={"patience": 2, "compat": "hf"}
    )
    trainer = overfitting_trainer(str(tmp_path / "lw"), [lw])
    trainer.train()
    assert trainer.state.global_step == expected_stop

    api = httpx.Client(base_url=live_server.url + "/api/v1")
    run = api.get(f"/runs/{lw.run_id}").json()
    assert run["status"] == "stopped" and run["project"] == "e2e"
    assert run["decision"]["should_stop"] and run["decision"]["step"] == expected_stop
    logged = {h["step"]: h["loss"] for h in trainer.state.log_history if "loss" in h}
    stored = api.get(f"/runs/{lw.run_id}/metrics/loss", params={"smoothing_mode": "none", "max_points": 100000}).json()[
        "points"
    ]
    assert {p["step"]: p["value"] for p in stored} == logged
    evals = [h for h in trainer.state.log_history if "eval_loss" in h]
    keys = {k["key"]: k["count"] for k in api.get(f"/runs/{lw.run_id}/metrics").json()["keys"]}
    assert keys["eval_loss"] == len(evals) and keys["learning_rate"] == len(logged)
    assert run["config"]["eval_steps"] == 5


def test_callback_without_service_never_breaks_training(tmp_path) -> None:
    lw = LossWatchCallback(url="http://127.0.0.1:9", run_name="nowhere", early_stopping={"patience": 2})
    trainer = overfitting_trainer(str(tmp_path / "x"), [lw], max_steps=20)
    trainer.train()
    assert trainer.state.global_step == 20
