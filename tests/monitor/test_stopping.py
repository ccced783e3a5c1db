"""The native rules, table-driven over small loss sequences with readable ids."""

from __future__ import annotations

import math

import numpy as np
import pytest

from losswatch.monitor.policy import RULE_DEFAULTS, Policy, Reason
from losswatch.monitor.stopping import Stopper, StopState


def run(values: list[float], steps: list[int] | None = None, **policy) -> tuple[int | None, Reason]:
    stopper = Stopper(Policy(**policy))
    state = StopState()
    for step, value in zip(steps or range(1, len(values) + 1), values, strict=True):
        d = stopper.check(state, step=step, value=value)
        if d.should_stop:
            return step, d.reason
    return None, Reason.NONE


CASES = [
    # id, values, policy, expected stop step, reason
    ("best-improving-never-stops", [5, 4, 3, 2, 1], dict(rule="best", patience=1), None, Reason.NONE),
    ("best-patience-1", [5, 4, 4.5], dict(rule="best", patience=1), 3, Reason.PATIENCE_EXHAUSTED),
    ("best-patience-3", [5, 4, 4.5, 4.2, 4.1], dict(rule="best", patience=3), 5, Reason.PATIENCE_EXHAUSTED),
    (
        "best-min-delta-abs",
        [5, 4.99, 4.98, 4.97],
        dict(rule="best", patience=2, min_delta=0.05),
        3,
        Reason.PATIENCE_EXHAUSTED,
    ),
    (
        "best-min-delta-rel",
        [100, 99.5, 99.0, 98.5],
        dict(rule="best", patience=2, min_delta=0.01, delta_mode="rel"),
        3,
        Reason.PATIENCE_EXHAUSTED,
    ),
    (
        "best-rel-negative-metric",
        [-100, -101.5, -103, -104.5],
        dict(rule="best", patience=1, min_delta=0.01, delta_mode="rel"),
        None,
        Reason.NONE,
    ),
    (
        "best-mode-max",
        [0.1, 0.2, 0.3, 0.25, 0.2],
        dict(rule="best", patience=2, mode="max"),
        5,
        Reason.PATIENCE_EXHAUSTED,
    ),
    (
        "best-smoothing-absorbs-one-bump",
        [5, 4, 3, 3.2, 2.5, 2.0],
        dict(rule="best", patience=1, smoothing=0.5),
        None,
        Reason.NONE,
    ),
    ("non-finite-nan", [5, 4, math.nan], dict(), 3, Reason.NON_FINITE),
    ("non-finite-inf", [5, math.inf], dict(), 2, Reason.NON_FINITE),
    (
        "non-finite-unchecked-counts-as-no-improvement",
        [5, math.nan, math.nan],
        dict(check_finite=False, patience=2),
        3,
        Reason.PATIENCE_EXHAUSTED,
    ),
    ("stopping-threshold", [5, 3, 0.9], dict(stopping_threshold=1.0), 3, Reason.STOPPING_THRESHOLD),
    ("divergence-threshold", [5, 3, 12], dict(divergence_threshold=10.0), 3, Reason.DIVERGENCE_THRESHOLD),
    ("order-nonfinite-before-threshold", [5, math.nan], dict(stopping_threshold=1.0), 2, Reason.NON_FINITE),
    (
        "window-outlier-as-reference-stops",
        [5, 1, 4.9, 4.8, 4.7, 4.8, 4.9, 5.0],
        dict(rule="window", patience=3),
        5,
        Reason.PATIENCE_EXHAUSTED,
    ),
    (
        "window-outlier-inside-window-keeps-going",
        [5, 4.9, 1, 4.8, 4.7],
        dict(rule="window", patience=3),
        None,
        Reason.NONE,
    ),
    (
        "window-steady-decline-never-stops",
        [5, 4.9, 4.8, 4.7, 4.6, 4.5, 4.4],
        dict(rule="window", patience=2),
        None,
        Reason.NONE,
    ),
    (
        "trend-flat-stops-as-plateau",
        [3, 2, 1.5] + [1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0, 1.01, 0.99, 1.0],
        dict(rule="trend", trend_test="improvement", patience=2, trend_window=5),
        8,
        Reason.PLATEAU,
    ),
    (
        "trend-noisy-decline-keeps-going",
        [2.0 - 0.05 * i + (0.04 if i % 2 else -0.04) for i in range(20)],
        dict(rule="trend", patience=2, trend_window=6),
        None,
        Reason.NONE,
    ),
    (
        "plateau-test-smooth-plateau-stops",
        [3.0, 2.0, 1.5, 1.2] + [1.0 + 0.0001 * (i % 2) for i in range(10)],
        dict(rule="trend", trend_test="plateau", patience=2, trend_window=5),
        10,
        Reason.PLATEAU,
    ),
    (
        "plateau-test-noisy-flat-keeps-going",
        [1.0 + (0.05 if i % 3 == 0 else -0.04 * (i % 2)) for i in range(12)],
        dict(rule="trend", trend_test="plateau", patience=2, trend_window=5),
        None,
        Reason.NONE,
    ),
    (
        "plateau-test-rising-stops",
        [1.0, 0.9, 0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1],
        dict(rule="trend", trend_test="plateau", patience=2, trend_window=4),
        7,
        Reason.PLATEAU,
    ),
    (
        "plateau-test-steady-decline-keeps-going",
        [2.0 - 0.02 * i for i in range(20)],
        dict(rule="trend", trend_test="plateau", patience=1, trend_window=5),
        None,
        Reason.NONE,
    ),
]


@pytest.mark.parametrize("values,policy,stop,reason", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_native_rules(values: list[float], policy: dict, stop: int | None, reason: Reason) -> None:
    assert run(values, **policy) == (stop, reason)


def test_min_steps_holds_a_patience_stop_until_warm_up_ends() -> None:
    steps = [100, 200, 300, 400, 500]
    assert run([5, 6, 7, 8, 9], steps, rule="best", patience=1, min_steps=400) == (400, Reason.PATIENCE_EXHAUSTED)


def test_stop_is_sticky() -> None:
    stopper = Stopper(Policy(rule="best", patience=1))
    state = StopState()
    stopper.check(state, step=1, value=1.0)
    first = stopper.check(state, step=2, value=2.0)
    later = stopper.check(state, step=3, value=0.1)
    assert first.should_stop and later.should_stop and later.step == 2


def test_message_carries_the_numbers() -> None:
    stopper = Stopper(Policy(rule="best", patience=2, min_delta=0.001, delta_mode="abs"))
    state = StopState()
    for step, v in [(1500, 1.6), (3000, 1.5518), (4500, 1.56), (6000, 1.57)]:
        d = stopper.check(state, step=step, value=v)
    assert d.should_stop
    assert d.message == ("eval_loss did not improve by more than 0.001 for 2 evaluations; best 1.552 at step 3000")
    assert (d.best_step, d.best_value) == (3000, 1.5518)


def test_training_loss_nan_is_guarded_when_monitoring_eval() -> None:
    stopper = Stopper(Policy())
    state = StopState()
    assert not stopper.observe(state, key="loss", step=1, value=2.0).should_stop
    d = stopper.observe(state, key="loss", step=2, value=math.nan)
    assert d.should_stop and d.reason is Reason.NON_FINITE


def test_state_round_trips_through_json_with_infinities() -> None:
    state = StopState(best=math.inf, hf_best=-math.inf, last_value=math.nan)
    back = StopState.from_dict(state.to_dict())
    assert back.best == math.inf and back.hf_best == -math.inf
    assert back.last_value is not None and math.isnan(back.last_value)


def test_compat_policy_leaves_service_defaults_out() -> None:
    """A compat policy takes its library's defaults (transformers: patience 1, Lightning: 3; min_delta 0 for
    both), not the native default's 0.5% rel."""
    policy = Policy(compat="hf")
    assert (policy.min_delta, policy.delta_mode, policy.patience) == (0.0, "abs", 1)
    assert Policy(**policy.model_dump()) == policy  # stored with the run as dumped, read back the same
    assert Policy(compat="lightning").patience == 3
    assert Policy(compat="lightning", patience=1, min_delta=0.01).min_delta == 0.01
    assert Policy().min_delta == RULE_DEFAULTS["min_delta"] and Policy().delta_mode == "rel"


def test_plateau_message_carries_the_numbers() -> None:
    values = [3.0, 2.0, 1.5, 1.2] + [1.0] * 10
    stopper, state = Stopper(Policy(rule="trend", patience=2, trend_window=5)), StopState()
    for step, v in enumerate(values, start=1):
        d = stopper.check(state, step=step * 100, value=v)
        if d.should_stop:
            break
    assert d.should_stop and d.reason is Reason.PLATEAU
    assert "Theil-Sen slope +0 per 1k steps over the last 5 checks" in d.message and "min_delta 0.005" in d.message


def _guard_one_by_one(values: list[float], check_finite: bool = True) -> tuple[int | None, dict]:
    stopper, state = Stopper(Policy(check_finite=check_finite)), StopState()
    for step, v in enumerate(values, start=1):
        if stopper.guard(state, step=step, value=v).should_stop:
            return step, state.guard
    return None, state.guard


def _guard_batched(values: list[float], chunk: int, check_finite: bool = True) -> tuple[int | None, dict]:
    stopper, state = Stopper(Policy(check_finite=check_finite)), StopState()
    steps = list(range(1, len(values) + 1))
    for i in range(0, len(values), chunk):
        stopper.feed_many(state, key="loss", steps=steps[i : i + chunk], values=values[i : i + chunk])
        if state.stopped:
            return state.stopped["step"], state.guard
    return None, state.guard


def _series(seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    x = list(2.0 * np.exp(-np.arange(300) / 80) + rng.normal(0, 0.05, 300))
    if seed % 3 == 0:
        x[150:] = [v * 6 for v in x[150:]]  # blow-up: must stop
    if seed % 4 == 1:
        x[100] = math.nan
    if seed % 5 == 2:
        x[40:44] = [20.0] * 4  # four spikes in a row: one short of a stop
    return x


@pytest.mark.parametrize("chunk", [1, 7, 64, 1000])
@pytest.mark.parametrize("seed", range(12))
def test_guard_batched_equals_one_by_one(seed: int, chunk: int) -> None:
    values = _series(seed)
    for check_finite in (True, False):
        stop_a, g_a = _guard_one_by_one(values, check_finite)
        stop_b, g_b = _guard_batched(values, chunk, check_finite)
        assert stop_a == stop_b
        assert g_a == g_b


def _jumping(n: int) -> list[float]:
    """A loss that crosses the guard's lower bound at every other point, then settles, then blows up."""
    x = [1.0] + [0.1 if i % 2 else 5.0 for i in range(n // 2)]
    x += [0.1 + 0.01 * math.sin(i) for i in range(n // 4)]
    return x + [9.0 + 0.01 * i for i in range(n - len(x))]


@pytest.mark.parametrize("chunk", [1, 333, 5000])
def test_guard_batched_equals_one_by_one_on_a_loss_jumping_between_levels(chunk: int) -> None:
    values = _jumping(3000)
    for check_finite in (True, False):
        assert _guard_batched(values, chunk, check_finite) == _guard_one_by_one(values, check_finite)


def test_guard_batch_work_is_linear_in_its_points(monkeypatch: pytest.MonkeyPatch) -> None:
    # Counted in points the level filter reads, not seconds: a batch that crosses the lower bound at every
    # other point once made it re-read the whole rest of the batch each time (50,000 points: 24 s).
    from losswatch.monitor.judgement import guard

    read: list[int] = []
    levels = guard._levels

    def counted(g: dict, v: np.ndarray) -> guard.Levels:
        read.append(v.size)
        return levels(g, v)

    monkeypatch.setattr(guard, "_levels", counted)
    values = _jumping(20_000)
    stopper, state = Stopper(Policy()), StopState()
    stopper.feed_many(state, key="loss", steps=list(range(1, len(values) + 1)), values=values)
    # No evaluation yet, the loss not frozen nor climbing 2x: the guard waits, so it reads every point.
    assert state.stopped is None and state.guard["n"] == len(values)
    assert sum(read) <= 5 * len(values)


OVERFIT = [
    # A smooth fall that turns up: the trend window still holds the fall, the noise test sees the rise.
    (
        "u-turn-stops-as-overfitting",
        [2.0 - 0.05 * i + (0.01 if i % 2 else -0.01) for i in range(11)] + [1.5 + 0.06 * j for j in range(1, 6)],
        15,
    ),
    # The same rise inside eval noise of +-0.15 is not significant.
    ("noisy-flat-keeps-going", [1.5, 1.7, 1.4, 1.65, 1.45, 1.6, 1.42, 1.68, 1.5, 1.62, 1.47], None),
]


@pytest.mark.parametrize("values,stop", [c[1:] for c in OVERFIT], ids=[c[0] for c in OVERFIT])
def test_trend_rule_overfitting_clause(values: list[float], stop: int | None) -> None:
    # A long trend window, so that the trend test is still looking at the fall when the rise begins.
    stopper, state = Stopper(Policy(rule="trend", trend_window=12)), StopState()
    got = None
    for step, v in enumerate(values, start=1):
        d = stopper.check(state, step=step, value=v)
        if d.should_stop:
            got = step
            assert d.reason is Reason.PATIENCE_EXHAUSTED and "overfitting" in d.message
            break
    assert got == stop


@pytest.mark.parametrize(
    ("values", "says"),
    [
        pytest.param([math.nan], "is not finite; no finite value before it", id="first-check"),
        pytest.param([2.0, 1.5, math.nan], "is not finite; best 1.5 at step 2", id="after-a-best"),
    ],
)
def test_non_finite_message_says_the_best_only_when_there_is_one(values: list[float], says: str) -> None:
    stopper, state = Stopper(Policy()), StopState()
    for step, value in enumerate(values, start=1):
        d = stopper.check(state, step=step, value=value)
    assert d.reason is Reason.NON_FINITE and says in d.message, d.message
