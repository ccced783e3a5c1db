"""compat "lightning" against Lightning itself on real curves and synthetic cases: its
EarlyStopping._evaluate_stopping_criteria is the oracle (its own test suite: test_stopping_lightning_suite.py)."""

from __future__ import annotations

import math

import pytest

from losswatch.monitor.policy import Policy, Reason
from losswatch.monitor.stopping import Stopper, StopState
from tests.curves import load, with_evals
from tests.oracles import lightning_run


def oracle(evals: list[tuple[int, float]], **kw) -> tuple[int | None, Reason]:
    """The real callback, fed the float32 tensors a logged metric is in a Lightning run."""
    theirs = lightning_run(evals, monitor="eval_loss", **kw)
    return theirs.stop, Reason(theirs.reason)


def ours(evals: list[tuple[int, float]], **kw) -> tuple[int | None, Reason]:
    stopper = Stopper(Policy(compat="lightning", **kw))
    state = StopState()
    for step, value in evals:
        # Through JSON on every check, as the service persists it between batches.
        state = StopState.from_dict(state.to_dict())
        d = stopper.check(state, step=step, value=value)
        if d.should_stop:
            return step, d.reason
    return None, Reason.NONE


def both(evals: list[tuple[int, float]], **kw) -> tuple[tuple[int | None, Reason], tuple[int | None, Reason]]:
    return ours(evals, **kw), oracle(evals, **kw)


CURVE_SETTINGS = [dict(patience=p, min_delta=d) for p in (1, 2, 3, 5) for d in (0.0, 0.001, 0.01)]
CURVE_CASES = [(name, kw) for name in with_evals() for kw in CURVE_SETTINGS]


@pytest.mark.curves
@pytest.mark.parametrize(
    "name,kw", CURVE_CASES, ids=[f"{n.split('_')[0]}-p{k['patience']}-d{k['min_delta']}" for n, k in CURVE_CASES]
)
def test_lightning_compat_stops_where_lightning_does_on_real_curves(name: str, kw: dict) -> None:
    _, evals = load(name)
    mine, theirs = both(evals, **kw)
    assert mine == theirs, f"{name} {kw}: losswatch stops at {mine}, Lightning at {theirs}"


def test_lightning_compat_thresholds_on_a_real_curve() -> None:
    _, evals = load("10_qwen25_medical_eval_epoch_overfit.jsonl")
    for kw in (
        dict(stopping_threshold=1.56),
        dict(divergence_threshold=1.575, patience=10),
        dict(stopping_threshold=1.0, divergence_threshold=1.6, patience=10),
    ):
        mine, theirs = both(evals, **kw)
        assert mine == theirs, f"{kw}: losswatch stops at {mine}, Lightning at {theirs}"


SYNTHETIC = [
    # id, values, settings
    ("nan-stops", [1.0, 0.9, math.nan, 0.8], dict()),
    ("inf-stops", [1.0, math.inf], dict()),
    ("nan-first", [math.nan, 1.0], dict()),
    ("nan-unchecked-counts-as-no-improvement", [1.0, math.nan, math.nan, math.nan], dict(check_finite=False)),
    ("inf-unchecked-hits-divergence", [1.0, math.inf], dict(check_finite=False, divergence_threshold=5.0)),
    ("stopping-threshold-strict", [1.0, 0.5, 0.4], dict(stopping_threshold=0.5)),
    ("stopping-threshold-crossed", [1.0, 0.5, 0.39], dict(stopping_threshold=0.4)),
    ("divergence-strict", [1.0, 5.0, 5.0], dict(divergence_threshold=5.0, patience=10)),
    ("divergence-crossed", [1.0, 5.01], dict(divergence_threshold=5.0)),
    ("threshold-before-divergence", [1.0, 0.1], dict(stopping_threshold=0.5, divergence_threshold=0.05)),
    ("nan-before-thresholds", [1.0, math.nan], dict(stopping_threshold=0.5, divergence_threshold=5.0)),
    ("min-delta-strict-tie", [1.0, 0.9, 0.8, 0.7], dict(min_delta=0.1, patience=1)),
    ("min-delta-small-gains", [1.0, 0.99, 0.98, 0.97, 0.96], dict(min_delta=0.015, patience=2)),
    ("min-delta-not-float-exact", [0.3, 0.2, 0.1, 0.0], dict(min_delta=0.1, patience=1)),
    ("ties-exhaust-patience", [1.0, 1.0, 1.0, 1.0], dict(patience=3)),
    ("rising", [1.0, 1.1, 1.2, 1.3], dict(patience=2)),
    ("divergence-after-improvement", [3.0, 2.0, 1.0, 12.0], dict(divergence_threshold=10.0)),
    ("max-mode-improving", [0.1, 0.2, 0.3, 0.4], dict(mode="max", patience=1)),
    ("max-mode-falls-back", [0.1, 0.3, 0.2, 0.25], dict(mode="max", patience=2)),
    ("max-mode-min-delta", [0.1, 0.15, 0.19, 0.2], dict(mode="max", patience=1, min_delta=0.05)),
    ("max-mode-stopping-threshold", [0.1, 0.9, 0.95], dict(mode="max", stopping_threshold=0.9)),
    ("max-mode-divergence", [0.5, 0.6, 0.05], dict(mode="max", divergence_threshold=0.1)),
    ("max-mode-nan", [0.5, math.nan], dict(mode="max")),
    ("negative-values", [-1.0, -2.0, -1.5, -1.9], dict(patience=2, min_delta=0.2)),
]


@pytest.mark.parametrize("values,kw", [c[1:] for c in SYNTHETIC], ids=[c[0] for c in SYNTHETIC])
def test_lightning_compat_synthetic(values: list[float], kw: dict) -> None:
    evals = list(enumerate(values, start=1))
    mine, theirs = both(evals, **kw)
    assert mine == theirs, f"{values} {kw}: losswatch stops at {mine}, Lightning at {theirs}"


def test_lightning_compat_leaves_out_fields_as_lightning_does() -> None:
    # Lightning's defaults: patience 3, min_delta 0. The service's own defaults must not leak in.
    evals = list(enumerate([1.0, 0.999, 0.998, 0.997, 0.996, 1.2, 1.3, 1.4], start=1))
    stopper = Stopper(Policy(compat="lightning"))
    state, stop = StopState(), None
    for step, value in evals:
        if stopper.check(state, step=step, value=value).should_stop:
            stop = step
            break
    assert stop == oracle(evals)[0] == 8
