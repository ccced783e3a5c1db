"""Every early-stopping sequence of Lightning's own test suite (tests/tests_pytorch/callbacks/
test_early_stopping.py), replayed through compat "lightning" with Lightning itself as the oracle.

Each case is the sequence one of Lightning's tests makes its model log (epoch i -> the i-th check), with
the callback settings that test uses. `epoch` is what Lightning's test asserts: it checks the port, the
real callback decides what is expected, and losswatch must agree on the step and the reason."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from losswatch.monitor.policy import Policy
from losswatch.monitor.stopping import Stopper, StopState
from tests.oracles import as_float32, lightning_run

STEP = 100  # one epoch of 100 steps: check i lands on step (i + 1) * STEP
NAN, INF = math.nan, math.inf

# id, monitor, values, settings, the stop epoch Lightning's test asserts (None: it runs to the end)
SUITE: list[tuple[str, str, list[float], dict[str, Any], int | None]] = [
    # test_early_stopping_patience
    ("patience-flat-after-drop-p3", "test_val_loss", [6, 5, 5, 5, 5, 5], {"patience": 3}, 4),
    ("patience-stepwise-p1", "test_val_loss", [6, 5, 4, 4, 3, 3], {"patience": 1}, 3),
    ("patience-bounce-p3", "test_val_loss", [6, 5, 6, 5, 5, 5], {"patience": 3}, 4),
    # test_early_stopping_patience_train: the same sequences checked at the end of the training epoch
    ("train-patience-flat-after-drop-p3", "train_loss", [6, 5, 5, 5, 5, 5], {"patience": 3}, 4),
    ("train-patience-stepwise-p1", "train_loss", [6, 5, 4, 4, 3, 3], {"patience": 1}, 3),
    ("train-patience-bounce-p3", "train_loss", [6, 5, 6, 5, 5, 5], {"patience": 3}, 4),
    # test_early_stopping_thresholds
    ("thresholds-none", "abc", [8, 4, 2, 3, 4, 5, 8, 10], {}, 5),
    ("stopping-threshold-2.9", "abc", [9, 8, 7, 6, 5, 6, 4, 3, 2, 1], {"stopping_threshold": 2.9}, 8),
    ("divergence-threshold-15.9", "abc", [9, 4, 2, 16, 32, 64], {"divergence_threshold": 15.9}, 3),
    # test_early_stopping_on_non_finite_monitor
    ("non-finite-inf", "val_loss", [4, 3, INF, 2, 1], {"check_finite": True}, 2),
    ("non-finite-nan", "val_loss", [4, 3, NAN, 2, 1], {"check_finite": True}, 2),
    # test_multiple_early_stopping_callbacks: each callback's own sequence (EarlyStoppingModel logs abc and
    # cba = 0; under ddp_spawn rank 0 logs 10 from epoch 2 on); the combined stop is checked below
    ("multi-abc-default", "abc", [8, 4, 2, 3, 4, 5, 8, 10], {}, None),
    ("multi-cba-p3", "cba", [0] * 8, {"patience": 3}, None),
    ("multi-cba-default", "cba", [0] * 8, {}, None),
    ("multi-abc-p1-rank0-diverges", "abc", [8, 4, 10, 10, 10, 10, 10, 10], {"patience": 1}, None),
    ("multi-abc-p1-rank1", "abc", [8, 4, 2, 3, 4, 5, 8, 10], {"patience": 1}, None),
    # test_early_stopping_reasons (max_epochs 10, or 3 for the improving model)
    ("reasons-patience-high-loss", "val_loss", [10.0] * 10, {"patience": 2}, 2),
    ("reasons-stopping-threshold", "val_loss", [5.0, 3.0, 1.0, 0.5] + [0.1] * 6, {"stopping_threshold": 0.6}, 3),
    ("reasons-divergence", "val_loss", [1.0, 2.0, 5.0, 10.0] + [15.0] * 6, {"divergence_threshold": 8.0}, 3),
    ("reasons-non-finite", "val_loss", [1.0, 0.5] + [NAN] * 8, {"check_finite": True}, 2),
    ("reasons-not-stopped", "val_loss", [5.0, 4.0, 3.0], {"patience": 3}, None),
    # test_early_stopping_no_val_step: patience 0 and min_delta 0.1 on a training loss; its loss comes from a
    # real fit, so this is a falling loss of that shape (the test asserts only a stop before max_epochs)
    (
        "no-val-step-patience-0-min-delta-0.1",
        "train_loss",
        [2.3, 1.9, 1.7, 1.65, 1.6, 1.55],
        {"patience": 0, "min_delta": 0.1},
        3,
    ),
]

# test_multiple_early_stopping_callbacks: (callbacks as SUITE ids, the epoch the fit stops at)
MULTIPLE = [
    (["multi-abc-default", "multi-cba-p3"], 3),
    (["multi-cba-p3", "multi-abc-default"], 3),
    (["multi-abc-p1-rank0-diverges", "multi-abc-p1-rank1", "multi-cba-default"], 2),
]

# Near-ties that fall one way in float32 and the other in float64 (the values as `.item()` hands them over).
FLOAT32: list[tuple[str, list[float], dict[str, Any]]] = [
    ("f32-stopping-threshold-tie", [1.0, as_float32(0.7)], {"stopping_threshold": 0.7}),
    ("f32-stopping-threshold-tie-max", [0.1, as_float32(0.3)], {"mode": "max", "stopping_threshold": 0.3}),
    ("f32-divergence-tie", [0.1, as_float32(0.3)], {"divergence_threshold": 0.3}),
    ("f32-min-delta-tie", [1.0, as_float32(0.9)], {"min_delta": 0.1, "patience": 1}),
    (
        "f32-min-delta-tie-max",
        [0.1, as_float32(0.15), as_float32(0.19)],
        {"mode": "max", "min_delta": 0.05, "patience": 1},
    ),
    ("f32-negative-min-delta", [1.0, as_float32(1.1), as_float32(1.2)], {"min_delta": -0.1, "patience": 1}),
    ("f32-beyond-float32-range", [1.0, 1e39], {}),
]


def evals_of(values: list[float]) -> list[tuple[int, float]]:
    return [((i + 1) * STEP, float(v)) for i, v in enumerate(values)]


def ours(monitor: str, evals: list[tuple[int, float]], **kw: Any) -> tuple[int | None, str, str, int]:
    stopper = Stopper(Policy(compat="lightning", monitor=monitor, **kw))
    state = StopState()
    for step, value in evals:
        state = StopState.from_dict(state.to_dict())  # as the service persists it between requests
        d = stopper.check(state, step=step, value=value)
        if d.should_stop:
            return step, d.reason.value, d.message, state.wait
    return None, "none", "", state.wait


def epoch_of(step: int | None) -> int | None:
    return None if step is None else step // STEP - 1


@pytest.mark.parametrize("case", SUITE, ids=[c[0] for c in SUITE])
def test_lightning_suite_sequence_stops_where_lightning_does(case: tuple) -> None:
    _, monitor, values, kw, epoch = case
    evals = evals_of(values)
    theirs = lightning_run(evals, monitor=monitor, **kw)
    if epoch is not None or case[0] == "reasons-not-stopped":
        assert epoch_of(theirs.stop) == epoch, "the port no longer matches Lightning's own assertion"
    stop, reason, _, wait = ours(monitor, evals, **kw)
    assert (stop, reason, wait) == (theirs.stop, theirs.reason, theirs.wait)


@pytest.mark.parametrize("ids,epoch", MULTIPLE, ids=["abc-cba", "cba-abc", "ddp-rank0-diverges"])
def test_lightning_suite_first_of_several_callbacks_ends_the_fit(ids: list[str], epoch: int) -> None:
    cases = {c[0]: c for c in SUITE}
    stops = []
    for name in ids:
        _, monitor, values, kw, _ = cases[name]
        stop = ours(monitor, evals_of(values), **kw)[0]
        assert stop == lightning_run(evals_of(values), monitor=monitor, **kw).stop
        stops.append(stop)
    assert epoch_of(min(s for s in stops if s is not None)) == epoch


GREP_WORDS = {
    "patience_exhausted": "did not improve in the last {wait} records",
    "stopping_threshold": "Stopping threshold reached",
    "divergence_threshold": "Divergence threshold reached",
    "non_finite": "is not finite",
}


@pytest.mark.parametrize("case", [c for c in SUITE if c[0].startswith("reasons-")], ids=lambda c: c[0])
def test_lightning_suite_messages_carry_the_words_lightning_users_grep_for(case: tuple) -> None:
    _, monitor, values, kw, _ = case
    theirs = lightning_run(evals_of(values), monitor=monitor, **kw)
    stop, reason, message, wait = ours(monitor, evals_of(values), **kw)
    if theirs.stop is None:
        assert stop is None and theirs.message is None
        return
    words = GREP_WORDS[reason].format(wait=wait)
    assert theirs.message is not None and words in theirs.message and words in message
    assert monitor in message and f"step {stop}" in message


@pytest.mark.parametrize("case", FLOAT32, ids=[c[0] for c in FLOAT32])
def test_lightning_compat_compares_in_float32(case: tuple) -> None:
    _, values, kw = case
    evals = evals_of(values)
    theirs = lightning_run(evals, **kw)
    assert ours("val_loss", evals, **kw)[:2] == (theirs.stop, theirs.reason)


def near_tie_cases(n: int) -> list[tuple[list[float], dict[str, Any]]]:
    """Sequences on a coarse grid (so ties and float32 near-ties are common) with settings drawn around
    them: thresholds equal to one of the values, min_delta equal to a gap between two of them."""
    rng = np.random.default_rng(11)
    out = []
    for _ in range(n):
        values = [
            float(v)
            for v in np.round(rng.choice([0.1, 0.2, 0.3, 0.7, 0.9, 1.1]) + rng.normal(0, 0.2, 10).cumsum() * 0.1, 1)
        ]
        mode = str(rng.choice(["min", "max"]))
        kw: dict[str, Any] = {"mode": mode, "patience": int(rng.integers(0, 4))}
        pick = rng.integers(0, 4)
        if pick == 0:
            kw["stopping_threshold"] = float(rng.choice(values))
        elif pick == 1:
            kw["divergence_threshold"] = float(rng.choice(values))
        else:
            kw["min_delta"] = float(rng.choice([0.1, 0.2, 0.3, -0.1, 0.0]))
        out.append(([as_float32(v) for v in values], kw))
    return out


NEAR_TIES = near_tie_cases(300)


def test_lightning_compat_near_tie_sweep_in_float32() -> None:
    mismatches = []
    for values, kw in NEAR_TIES:
        evals = evals_of(values)
        theirs = lightning_run(evals, **kw)
        mine = ours("val_loss", evals, **kw)
        if mine[:2] != (theirs.stop, theirs.reason):
            mismatches.append((values, kw, mine[:2], (theirs.stop, theirs.reason)))
    assert not mismatches, mismatches[:5]
    # The sweep is only worth something if float32 changes outcomes in it: count the cases where the same
    # callback fed float64 tensors would stop elsewhere.
    differs = sum(lightning_run(evals_of(v), **kw).stop != _float64_stop(v, kw) for v, kw in NEAR_TIES)
    assert differs >= 10


def _float64_stop(values: list[float], kw: dict[str, Any]) -> int | None:
    import torch
    from lightning.pytorch.callbacks import EarlyStopping

    callback = EarlyStopping(monitor="val_loss", **kw)
    for step, value in evals_of(values):
        if callback._evaluate_stopping_criteria(torch.tensor(value, dtype=torch.float64))[0]:
            return step
    return None
