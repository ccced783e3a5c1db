"""The early-stopping cases of transformers' own tests (tests/trainer/test_trainer_callback.py
EarlyStoppingCallbackTest and StatefulCallbackTest, tests/trainer/test_trainer.py
TrainerEarlyStoppingTest), plus transformers' defaults, replayed through compat "hf" with transformers
itself as the oracle: the real EarlyStoppingCallback, the real TrainingArguments defaults, the Trainer's
own best-metric update, and for test_early_stopping_callback a real Trainer."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from losswatch.monitor.policy import Policy
from losswatch.monitor.stopping import Stopper, StopState
from tests.oracles import hf_run

NAN = math.nan

# id, metric_for_best_model, greater_is_better (None: transformers infers it), values, callback settings
# (left out: the callback's own defaults), the counter / stop its test asserts (None where it asserts none).
SUITE: list[tuple[str, str, bool | None, list[float], dict[str, Any], dict[str, Any]]] = [
    # EarlyStoppingCallbackTest: best_metric is set by an earlier evaluation here
    ("counter-increments-when-worse", "eval_accuracy", True, [0.9, 0.8], {"patience": 3}, {"counter": 1}),
    ("counter-resets-on-improvement", "eval_accuracy", True, [0.8, 0.7, 0.7, 0.95], {"patience": 3}, {"counter": 0}),
    (
        "threshold-blocks-small-gain",
        "eval_accuracy",
        True,
        [0.8, 0.85],
        {"patience": 3, "threshold": 0.1},
        {"counter": 1},
    ),
    # StatefulCallbackTest: EarlyStoppingCallback(5, 0.2), whose state survives a resume; here its counter
    # survives the service's JSON state between every check
    (
        "stateful-patience-5-threshold-0.2",
        "eval_loss",
        None,
        [1.0, 0.9, 0.7, 0.65, 0.6, 0.55, 0.5, 0.45],
        {"patience": 5, "threshold": 0.2},
        {},
    ),
    # transformers' defaults: EarlyStoppingCallback() is patience 1, threshold 0
    ("defaults-patience-1", "eval_loss", None, [1.0, 0.9, 0.95, 0.8], {}, {"stop": 3}),
    ("defaults-accuracy-rising-is-better", "eval_accuracy", None, [0.5, 0.6, 0.7, 0.8, 0.9], {}, {"stop": None}),
    ("defaults-accuracy-without-prefix", "accuracy", None, [0.5, 0.6, 0.55, 0.7], {}, {"stop": 3}),
    ("defaults-loss-without-prefix", "loss", None, [1.0, 0.9, 0.95], {}, {"stop": 3}),
    ("defaults-bleu-falling", "bleu", None, [30.0, 31.0, 29.0], {"patience": 1}, {"stop": 3}),
    # what transformers accepts: patience 0 stops at the first evaluation, a negative threshold counts any
    # strict improvement
    ("patience-0-stops-at-first-evaluation", "eval_loss", None, [1.0, 0.5, 0.25], {"patience": 0}, {"stop": 1}),
    (
        "negative-threshold",
        "eval_loss",
        None,
        [1.0, 0.99, 0.98, 0.985, 0.97],
        {"patience": 1, "threshold": -0.5},
        {"stop": 4},
    ),
    ("negative-threshold-tie", "eval_loss", None, [1.0, 1.0], {"patience": 1, "threshold": -0.5}, {"stop": 2}),
    # the Trainer raises best_metric on any strict gain, even one the threshold did not count
    (
        "sub-threshold-gains-raise-best",
        "eval_loss",
        None,
        [1.0, 0.999, 0.998, 0.997, 0.996],
        {"patience": 3, "threshold": 0.0015},
        {},
    ),
    ("nan-first", "eval_loss", None, [NAN, 1.0, 0.9, 0.95, 0.96], {"patience": 2}, {}),
    ("nan-middle", "eval_loss", None, [1.0, 0.9, NAN, 0.95, 0.85, 0.86], {"patience": 2}, {}),
    ("max-mode-nan", "eval_accuracy", None, [0.5, NAN, 0.6, NAN, NAN], {"patience": 2}, {}),
]


def evals_of(values: list[float]) -> list[tuple[int, float]]:
    return [((i + 1) * 50, v) for i, v in enumerate(values)]


def policy_for(metric: str, greater_is_better: bool | None, kw: dict[str, Any]) -> Policy:
    fields: dict[str, Any] = {"compat": "hf", "monitor": metric}
    if greater_is_better is not None:
        fields["mode"] = "max" if greater_is_better else "min"
    if "patience" in kw:
        fields["patience"] = kw["patience"]
    if "threshold" in kw:
        fields["min_delta"] = kw["threshold"]
    return Policy(**fields)


def ours(policy: Policy, evals: list[tuple[int, float]]) -> tuple[int | None, int]:
    stopper, state = Stopper(policy), StopState()
    for step, value in evals:
        state = StopState.from_dict(state.to_dict())  # as the service persists it between requests
        if stopper.check(state, step=step, value=value).should_stop:
            return step, state.wait
    return None, state.wait


@pytest.mark.parametrize("case", SUITE, ids=[c[0] for c in SUITE])
def test_hf_suite_sequence_stops_where_transformers_does(tmp_path: Path, case: tuple) -> None:
    _, metric, greater, values, kw, asserted = case
    evals = evals_of(values)
    theirs = hf_run(evals, str(tmp_path), metric=metric, greater_is_better=greater, **kw)
    if "counter" in asserted:
        assert theirs.counter == asserted["counter"], "the port no longer matches transformers' own assertion"
    if "stop" in asserted:
        expected = asserted["stop"]
        assert theirs.stop == (None if expected is None else evals[expected - 1][0])
    policy = policy_for(metric, greater, kw)
    assert policy.monitor == theirs.metric
    assert ours(policy, evals) == (theirs.stop, theirs.counter)


METRIC_NAMES = ["eval_loss", "loss", "eval_nll_loss", "accuracy", "eval_accuracy", "bleu", "eval_perplexity", "wer"]


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_hf_compat_infers_direction_and_prefix_as_training_arguments_do(tmp_path: Path, name: str) -> None:
    theirs = hf_run([], str(tmp_path), metric=name)
    policy = Policy(compat="hf", monitor=name)
    assert (policy.mode == "max", policy.monitor) == (theirs.greater_is_better, theirs.metric)
    # An explicit direction wins over the name, as greater_is_better does.
    assert Policy(compat="hf", monitor=name, mode="min").mode == "min"


def token_accuracy(eval_pred: Any) -> dict[str, float]:
    predictions, labels = eval_pred
    return {"accuracy": float((predictions[:, :-1] == labels[:, 1:]).mean())}


@pytest.mark.parametrize("load_best", [True, False], ids=["load-best-at-end", "no-load-best"])
def test_hf_suite_trainer_early_stopping_callback(tmp_path: Path, load_best: bool) -> None:
    """test_early_stopping_callback: a real Trainer, metric_for_best_model="accuracy" with no direction
    (transformers infers higher is better and reads eval_accuracy), EarlyStoppingCallback(1, 0.0001),
    evaluation every epoch of 20; the fit stops early. losswatch, told only what the user told transformers,
    stops at the same evaluation and names the same best step."""
    from transformers import EarlyStoppingCallback, Trainer, TrainingArguments

    from tests.tiny import Tokens, tiny_model

    args = TrainingArguments(
        output_dir=str(tmp_path),
        num_train_epochs=20,
        per_device_train_batch_size=16,
        learning_rate=5e-3,
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=2,
        load_best_model_at_end=load_best,
        metric_for_best_model="accuracy",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
    )
    data = Tokens(16, 16, 64, seed=1)  # evaluated on what it learns: accuracy climbs, then stalls
    trainer = Trainer(
        model=tiny_model(64, 0),
        args=args,
        train_dataset=data,
        eval_dataset=data,
        compute_metrics=token_accuracy,
        preprocess_logits_for_metrics=lambda logits, labels: logits.argmax(-1),
        callbacks=[EarlyStoppingCallback(1, 0.0001)],
    )
    out = trainer.train()
    assert out.global_step < 20, "transformers' own assertion: the fit stops before num_train_epochs"
    evals = [(int(h["step"]), float(h["eval_accuracy"])) for h in trainer.state.log_history if "eval_accuracy" in h]
    stopper, state = Stopper(Policy(compat="hf", monitor="accuracy", patience=1, min_delta=0.0001)), StopState()
    stop = None
    for step, value in evals:
        d = stopper.check(state, step=step, value=value)
        if d.should_stop:
            stop = d
            break
    assert stop is not None and stop.step == out.global_step
    assert stop.best_step == trainer.state.best_global_step
    assert stop.best_value is not None and trainer.state.best_metric is not None
    assert np.isclose(stop.best_value, trainer.state.best_metric)
