"""After an early stop the weights left are the best evaluation's, kept on disk and reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from losswatch.callbacks import LossWatchCallback
from tests.conftest import free_port
from tests.tiny import overfitting_trainer

POLICY = {"patience": 3, "compat": "hf"}
# Nothing in the user's arguments keeps the best: no periodic saves, no load at the end, one checkpoint.
PLAIN: dict[str, Any] = dict(
    save_steps=1000, load_best_model_at_end=False, metric_for_best_model=None, save_total_limit=1
)


def evals(trainer) -> dict[int, float]:  # type: ignore[no-untyped-def]
    return {h["step"]: h["eval_loss"] for h in trainer.state.log_history if "eval_loss" in h}


def same_weights(model: Any, checkpoint: Path) -> bool:
    saved = load_file(str(checkpoint / "model.safetensors"))
    state = model.state_dict()
    return all(torch.equal(state[name].cpu(), tensor) for name, tensor in saved.items())


def test_best_checkpoint_is_saved_protected_loaded_and_reported(live_server, api, tmp_path) -> None:
    out = tmp_path / "out"
    lw = LossWatchCallback(url=live_server.url, project="best", run_name="best", early_stopping=POLICY)
    trainer = overfitting_trainer(str(out), [lw], max_steps=200, **PLAIN)
    trainer.train()

    losses = evals(trainer)
    best_step = min(losses, key=losses.__getitem__)
    stop = trainer.state.global_step
    assert best_step < stop < 200, "the run must stop early, past its best, for this test to mean anything"
    best_dir = out / f"checkpoint-{best_step}"
    # save_total_limit=1: rotation at the stop's save kept the best, and the Trainer's end (as with
    # load_best_model_at_end) removed the stop's own checkpoint instead
    assert best_dir.is_dir() and sorted(p.name for p in out.glob("checkpoint-*")) == [best_dir.name]
    assert same_weights(trainer.model, best_dir)
    assert abs(trainer.evaluate()["eval_loss"] - losses[best_step]) < 1e-5
    assert trainer.args.load_best_model_at_end is False  # the user's argument is given back as it was

    run = api.get(f"/runs/{lw.run_id}").json()
    assert run["status"] == "stopped"
    assert run["best_checkpoint"] == {"step": best_step, "path": str(best_dir.resolve())}


def test_keep_best_false_leaves_the_last_weights(live_server, api, tmp_path) -> None:
    out = tmp_path / "out"
    lw = LossWatchCallback(url=live_server.url, run_name="last", early_stopping=POLICY, keep_best=False)
    trainer = overfitting_trainer(str(out), [lw], max_steps=200, **PLAIN)
    trainer.train()

    losses = evals(trainer)
    best_step = min(losses, key=losses.__getitem__)
    stop = trainer.state.global_step
    assert best_step < stop
    assert not (out / f"checkpoint-{best_step}").exists()
    assert abs(trainer.evaluate()["eval_loss"] - losses[stop]) < 1e-5
    assert api.get(f"/runs/{lw.run_id}").json()["best_checkpoint"] is None


def test_resume_while_the_service_is_down_keeps_the_best_from_before_the_checkpoint(tmp_path) -> None:
    # No decision arrives (nothing listens there): keep-best judges locally. On a resume its best was
    # forgotten, so the first evaluation after it read as a new best and replaced the real one.
    out, url = tmp_path / "out", f"http://127.0.0.1:{free_port()}"
    first = LossWatchCallback(url=url, run_name="down", early_stopping=POLICY)
    t1 = overfitting_trainer(str(out), [first], max_steps=60, save_total_limit=None, load_best_model_at_end=False)
    t1.train()
    losses = evals(t1)
    best_step = min(losses, key=losses.__getitem__)
    assert best_step < 60 and losses[60] > losses[best_step]

    second = LossWatchCallback(url=url, run_name="down", early_stopping=POLICY)
    t2 = overfitting_trainer(str(out), [second], max_steps=70, save_total_limit=None, load_best_model_at_end=False)
    t2.train(resume_from_checkpoint=str(out / "checkpoint-60"))
    after = evals(t2)
    assert min(after[65], after[70]) > losses[best_step], "the evaluations after the resume must be worse"
    assert t2.state.best_global_step == best_step
    assert same_weights(t2.model, out / f"checkpoint-{best_step}")
