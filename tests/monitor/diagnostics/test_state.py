"""The state, on synthetic series built to have it and on the shared real curves."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from losswatch.monitor.diagnostics import diagnose
from losswatch.monitor.diagnostics.state import _stopped_as
from losswatch.monitor.importers import read_log
from losswatch.monitor.judgement.schedule import Schedule
from losswatch.monitor.policy import Decision, Policy
from losswatch.monitor.stopping import Stopper, StopState
from tests.curves import CURVES, load, with_evals

from .conftest import Loader

Case = Callable[[], tuple[np.ndarray, np.ndarray, dict[str, Any]]]


def _steps(n: int, every: int = 10) -> np.ndarray:
    return np.arange(1, n + 1, dtype=np.int64) * every


def _decay(s: np.ndarray, start: float = 2.5, floor: float = 1.0, tau: float = 800.0) -> np.ndarray:
    return floor + (start - floor) * np.exp(-s / tau)


def improving_on_noisy_decay():
    s = _steps(200)
    return s, _decay(s) + np.random.default_rng(1).normal(0, 0.03, s.size), {"key": "loss"}


def improving_on_smooth_eval():
    s = _steps(12, every=500)
    return s, _decay(s, 1.8, 1.1, 3000.0), {"key": "eval_loss"}


def improving_accuracy_in_max_mode():
    s = _steps(40, every=100)
    acc = 0.9 - 0.5 * np.exp(-s / 2500.0) + np.random.default_rng(2).normal(0, 0.005, s.size)
    return s, acc, {"key": "eval_accuracy", "mode": "max"}


def plateaued_on_flat_noise_after_drop():
    s = _steps(300)
    return s, _decay(s, tau=100.0) + np.random.default_rng(3).normal(0, 0.02, s.size), {"key": "loss"}


def plateaued_on_constant_zero():
    s = _steps(100)
    v = np.zeros(s.size)
    v[0] = 0.03
    return s, v, {"key": "loss"}


def plateaued_on_significant_drift_below_noise():
    # The last quarter drifts down by half a noise sigma: significant over 1000 points, but smaller
    # than the band of the smoothed chart, so nobody would see it move.
    s = _steps(4000, every=1)
    v = 2.0 - 5e-5 * s + np.random.default_rng(4).normal(0, 0.1, s.size)
    return s, v, {"key": "loss"}


def plateaued_on_constant_learning_rate():
    s = _steps(50)
    return s, np.full(s.size, 2e-5), {"key": "learning_rate"}


def improving_on_learning_rate_warmup():
    # A schedule rising during warm-up is by design, never "diverging".
    s = _steps(30)
    return s, 1e-7 * s, {"key": "learning_rate"}


def diverging_on_lr_blowup():
    s = _steps(200)
    v = _decay(s) + np.random.default_rng(5).normal(0, 0.03, s.size)
    v[150:] = 7.5 + np.random.default_rng(6).normal(0, 0.3, 50)
    return s, v, {"key": "loss"}


def diverging_on_slow_climb():
    s = _steps(300)
    v = _decay(s, tau=300.0)
    v[200:] += np.linspace(0, 0.8, 100)
    return s, v + np.random.default_rng(7).normal(0, 0.02, s.size), {"key": "loss"}


def diverging_on_accuracy_collapse():
    s = _steps(60, every=100)
    acc = np.where(s < 4000, 0.85, 0.12) + np.random.default_rng(8).normal(0, 0.004, s.size)
    return s, acc, {"key": "eval_accuracy", "mode": "max"}


def improving_despite_single_early_spike():
    s = _steps(200)
    v = _decay(s) + np.random.default_rng(9).normal(0, 0.03, s.size)
    v[12] = 25.0
    return s, v, {"key": "loss"}


def plateaued_despite_spike_at_last_point():
    s = _steps(300)
    v = _decay(s, tau=100.0) + np.random.default_rng(10).normal(0, 0.02, s.size)
    v[-1] = 9.0
    return s, v, {"key": "loss"}


def _overfit_pair(train_falls: bool = True):
    rng = np.random.default_rng(11)
    es = _steps(20, every=500)
    ev = 1.2 + 0.5 * np.exp(-es / 2000.0) + 4e-9 * (es - 4000.0).clip(0) ** 2 + rng.normal(0, 0.002, es.size)
    ts = _steps(1000)
    tv = (_decay(ts, 2.2, 0.4, 3000.0) if train_falls else np.full(ts.size, 1.3)) + rng.normal(0, 0.03, ts.size)
    return es, ev, ts, tv


def overfitting_on_u_shaped_eval_with_falling_train():
    es, ev, ts, tv = _overfit_pair()
    return es, ev, {"key": "eval_loss", "companion": (ts, tv)}


def overfitting_on_u_shaped_eval_with_flat_train():
    # The same validation curve, training no longer improving but not getting worse either (a loss at its
    # floor cannot fall further): validation turning up from its best is the model getting worse on unseen
    # data - overfitting; a rising curve is never "plateaued".
    es, ev, ts, tv = _overfit_pair(train_falls=False)
    return es, ev, {"key": "eval_loss", "companion": (ts, tv)}


def overfitting_on_u_shaped_eval_without_companion():
    # No training loss to compare with: a validation curve that turned up beyond its noise is read as
    # overfitting all the same, not as a plateau.
    es, ev, _, _ = _overfit_pair()
    return es, ev, {"key": "eval_loss"}


def unstable_on_directionless_swings():
    s = _steps(300)
    v = 2.0 + np.random.default_rng(12).normal(0, 0.5, s.size)
    return s, np.abs(v), {"key": "loss"}


def unstable_on_repeated_spikes():
    s = _steps(400)
    v = _decay(s, tau=200.0) + np.random.default_rng(13).normal(0, 0.01, s.size)
    v[[320, 340, 355, 370, 390]] += 3.0
    return s, v, {"key": "loss"}


def non_finite_on_trailing_nan():
    s = _steps(50)
    v = _decay(s)
    v[-1] = np.nan
    return s, v, {"key": "loss"}


def non_finite_on_trailing_inf():
    s = _steps(50)
    v = _decay(s)
    v[-2:] = np.inf
    return s, v, {"key": "loss"}


def improving_despite_recovered_nan():
    s = _steps(200)
    v = _decay(s) + np.random.default_rng(14).normal(0, 0.01, s.size)
    v[[40, 90]] = np.nan
    return s, v, {"key": "loss"}


def insufficient_data_on_four_points():
    s = _steps(4)
    return s, np.array([2.0, 1.8, 1.7, 1.6]), {"key": "loss"}


def insufficient_data_on_mostly_nan():
    s = _steps(9)
    v = np.array([2.0, np.nan, 1.8, np.nan, np.inf, 1.7, np.nan, np.nan, 1.6])
    return s, v, {"key": "eval_loss"}


def overfitting_on_four_evaluations_rising_from_the_first():
    # Too few for a trend test, enough for the stopping rule, which stops this run here: the state says why
    # (it said "too early to judge" beside the stop).
    es = _steps(4, every=100)
    ts = _steps(40)
    tv = _decay(ts, 0.35, 0.2, 200.0) + np.random.default_rng(5).normal(0, 0.005, ts.size)
    kwargs = {"key": "eval_loss", "companion": (ts, tv), "config": {"max_steps": 500}}
    return es, np.array([0.411, 0.440, 0.458, 0.447]), kwargs


def plateaued_on_four_evaluations_that_barely_move():
    # 0.07% over four evaluations: the stopping rule stops it as levelling off, and the state agrees.
    es = _steps(4, every=200)
    return es, np.array([7.4166, 7.4148, 7.4131, 7.4114]), {"key": "eval_loss"}


def plateaued_on_a_fall_too_small_to_be_worth_continuing():
    # Still falling significantly and beyond its noise, but the forecast to the planned end gains less than the
    # default rule asks of continuing: the rule stops it as levelling off, and a person calls it a plateau (it
    # was "improving" beside that stop).
    es = _steps(30, every=100)
    ev = 2.72 + 0.1 * np.exp(-es / 700.0) + np.random.default_rng(6).normal(0, 2e-5, es.size)
    return es, ev, {"key": "eval_loss", "config": {"max_steps": 4000}}


def overfitting_on_a_large_u_without_training():
    # Validation 1.0 at step 500, then 1.3 to 1.6 (+60%) with no training loss to read: the detector reads a
    # climb as an overfit, and the stopping rule agreeing must not turn it into "diverging" (a climb of more
    # than a quarter without a training loss is no level jump).
    return _steps(10, every=100), np.array([3.0, 2.0, 1.5, 1.2, 1.0, 1.3, 1.35, 1.4, 1.5, 1.6]), {"key": "eval_loss"}


def overfitting_on_a_jump_that_recovers_without_training():
    # Best 1.0 at step 300, then 1.7 and back down to 1.4 with no training loss to read: the rule stops it, the
    # levels show no jump that stays (it read "dropped from its best level of 1.5 to 1.5 ... diverged").
    return _steps(10, every=100), np.array([2.0, 1.5, 1.0, 1.7, 1.6, 1.55, 1.5, 1.45, 1.42, 1.4]), {"key": "eval_loss"}


def overfitting_on_four_accuracies_falling_from_the_first():
    return _steps(4, every=100), np.array([0.8, 0.7, 0.6, 0.5]), {"key": "eval_accuracy", "mode": "max"}


def _both_rising() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validation at its best at step 300, then 30-60% worse and noisy, while the training loss, logged once
    per evaluation, doubles: a run going wrong, not a model memorising."""
    es = _steps(9, every=100)
    ev = np.array([3.0, 2.6, 2.5, 3.6, 3.3, 4.0, 3.4, 3.9, 3.5])
    tv = np.array([2.2, 2.0, 1.9, 2.6, 3.1, 3.8, 3.5, 3.9, 4.1])
    return es, ev, es.copy(), tv


def diverging_on_validation_rising_with_its_training_loss():
    es, ev, ts, tv = _both_rising()
    return es, ev, {"key": "eval_loss", "companion": (ts, tv), "config": {"max_steps": 1000}}


def overfitting_on_training_loss_first_logged_after_the_best():
    # The training loss is logged every 500 steps, first after the best evaluation (step 132): the training
    # loss at the best is read at its first logging after it, not left unknown (which hid the overfit).
    es = _steps(10, every=132)
    ev = np.array([2.55, 3.4, 3.3, 3.6, 3.2, 3.5, 3.9, 3.4, 3.7, 3.6])
    ts = np.array([500, 1000], dtype=np.int64)
    kwargs = {"key": "eval_loss", "companion": (ts, np.array([1.2, 0.4])), "config": {"max_steps": 1452}}
    return es, ev, kwargs


def insufficient_data_on_empty_series():
    return np.array([], dtype=np.int64), np.array([], dtype=np.float64), {"key": "loss"}


CASES: list[tuple[str, Case]] = [
    ("improving", improving_on_noisy_decay),
    ("improving", improving_on_smooth_eval),
    ("improving", improving_accuracy_in_max_mode),
    ("improving", improving_on_learning_rate_warmup),
    ("improving", improving_despite_single_early_spike),
    ("improving", improving_despite_recovered_nan),
    ("plateaued", plateaued_on_flat_noise_after_drop),
    ("plateaued", plateaued_on_constant_zero),
    ("plateaued", plateaued_on_significant_drift_below_noise),
    ("plateaued", plateaued_on_constant_learning_rate),
    ("plateaued", plateaued_despite_spike_at_last_point),
    ("overfitting", overfitting_on_u_shaped_eval_with_flat_train),
    ("overfitting", overfitting_on_u_shaped_eval_without_companion),
    ("diverging", diverging_on_lr_blowup),
    ("diverging", diverging_on_slow_climb),
    ("diverging", diverging_on_accuracy_collapse),
    ("overfitting", overfitting_on_u_shaped_eval_with_falling_train),
    ("overfitting", overfitting_on_four_evaluations_rising_from_the_first),
    ("overfitting", overfitting_on_a_large_u_without_training),
    ("overfitting", overfitting_on_four_accuracies_falling_from_the_first),
    ("overfitting", overfitting_on_a_jump_that_recovers_without_training),
    ("overfitting", overfitting_on_training_loss_first_logged_after_the_best),
    ("plateaued", plateaued_on_four_evaluations_that_barely_move),
    ("plateaued", plateaued_on_a_fall_too_small_to_be_worth_continuing),
    ("diverging", diverging_on_validation_rising_with_its_training_loss),
    ("unstable", unstable_on_directionless_swings),
    ("unstable", unstable_on_repeated_spikes),
    ("non_finite", non_finite_on_trailing_nan),
    ("non_finite", non_finite_on_trailing_inf),
    ("insufficient_data", insufficient_data_on_four_points),
    ("insufficient_data", insufficient_data_on_mostly_nan),
    ("insufficient_data", insufficient_data_on_empty_series),
]


@pytest.mark.parametrize(("expected", "case"), [pytest.param(e, c, id=c.__name__) for e, c in CASES])
def test_state(expected: str, case: Case) -> None:
    steps, values, kwargs = case()
    result = diagnose(steps, values, **kwargs)
    assert result["state"] == expected, result["summary"]


def test_single_early_spike_is_listed_as_a_spike() -> None:
    steps, values, kwargs = improving_despite_single_early_spike()
    spikes = diagnose(steps, values, **kwargs)["spikes"]
    assert [p["step"] for p in spikes["items"]] == [int(steps[12])]
    assert spikes["items"][0]["value"] == 25.0


def test_spike_at_last_point_is_listed() -> None:
    steps, values, kwargs = plateaued_despite_spike_at_last_point()
    assert diagnose(steps, values, **kwargs)["spikes"]["items"][-1]["step"] == int(steps[-1])


def test_training_key_reports_the_companion_validation_overfitting() -> None:
    es, ev, ts, tv = _overfit_pair()
    result = diagnose(ts, tv, key="loss", companion=(es, ev))
    assert result["state"] == "improving"
    assert result["overfitting"]["detected"] is True
    assert result["overfitting"]["validation"] == "companion"
    assert "overfitting" in result["summary"]


# Readings of the shared real curves (see ../shared/curves/README.md for what each one does).
REAL: list[tuple[str, str, str | None, set[str]]] = [
    ("03", "eval_loss", "loss", {"overfitting", "plateaued"}),
    ("03", "loss", "eval_loss", {"improving"}),
    ("05", "loss", None, {"diverging"}),
    ("06", "loss", None, {"plateaued"}),
    ("08", "loss", None, {"plateaued"}),
    ("10", "eval_loss", "loss", {"overfitting"}),
    # 2.835 -> 2.7216 over 45 evaluations, the last gains below 0.001: still falling, but not by enough to be
    # worth continuing (the default rule stops it as levelling off).
    ("12", "eval_loss", "loss", {"plateaued"}),
    ("14", "eval_loss", "loss", {"improving"}),
    ("14", "loss", "eval_loss", {"improving"}),
    ("17", "eval_loss", "loss", {"improving"}),
    ("17", "loss", "eval_loss", {"improving"}),
    ("20", "loss", None, {"improving"}),
    ("22", "eval_loss", "loss", {"improving"}),
    # 0.4761 -> 0.467 (step 1200), then 0.475 and 0.4731: improving, then flat just above its best.
    ("42", "eval_loss", "loss", {"plateaued"}),
    ("44", "eval_loss", "loss", {"plateaued"}),
    # Best at step 200, then up 9.7% and level there while training falls 9.72 -> 7.45: risen and stayed.
    ("35", "eval_loss", "loss", {"overfitting"}),
    # 7.4166 -> 7.401 over 9 evaluations while training falls 18.8 -> 7.4: stuck.
    ("41", "eval_loss", "loss", {"plateaued"}),
    # Training 2138 -> 8546 and validation 680 -> 2799: the run went wrong as a whole.
    ("45", "eval_loss", "loss", {"diverging"}),
    ("45", "loss", "eval_loss", {"diverging"}),
]


@pytest.mark.parametrize(
    ("prefix", "key", "companion", "expected"),
    [pytest.param(*row, id=f"{row[0]}_{row[1]}") for row in REAL],
)
def test_state_on_real_curve(curve: Loader, prefix: str, key: str, companion: str | None, expected: set[str]) -> None:
    steps, values = curve(prefix, key)
    other = curve(prefix, companion) if companion else None
    result = diagnose(steps, values, key=key, companion=other)
    assert result["state"] in expected, result["summary"]


def test_real_curve_10_eval_without_companion_reads_the_rise_after_its_best(curve: Loader) -> None:
    # 1.5518 at step 4500, then 1.573-1.578 over epoch 3: risen beyond its noise since its best.
    result = diagnose(*curve("10", "eval_loss"), key="eval_loss")
    assert result["state"] == "overfitting" and "levelled off" not in result["summary"], result["summary"]


def test_real_curve_10_overfitting_numbers(curve: Loader) -> None:
    result = diagnose(*curve("10", "eval_loss"), key="eval_loss", companion=curve("10", "loss"))
    o = result["overfitting"]
    assert (o["best_step"], o["best_value"]) == (4500, pytest.approx(1.5518, abs=1e-4))
    # Prechelt's GL at the latest evaluation: 100 * (1.5776 / 1.5518 - 1).
    assert o["generalization_loss"] == pytest.approx(100 * (1.5776 / 1.5518 - 1), rel=1e-3)
    assert o["train_falling"] and o["validation_rising"]
    assert o["train_now"] < o["train_at_best"]


def test_real_curve_05_first_point_is_the_best_and_the_jump_no_spike(curve: Loader) -> None:
    result = diagnose(*curve("05", "loss"), key="loss")
    assert result["trend"]["best_level"] == pytest.approx(1.637, abs=1e-3)
    assert result["trend"]["recent_level"] == pytest.approx(10.3735, abs=1e-3)


@pytest.mark.parametrize("prefix", ["06"])
def test_constant_zero_is_neither_diverging_nor_unstable(curve: Loader, prefix: str) -> None:
    result = diagnose(*curve(prefix, "loss"), key="loss")
    assert result["volatility"]["level"] == "low"
    assert result["spikes"]["count"] == 0
    assert result["trend"]["last_smoothed"] == 0.0


def _default_stop(name: str) -> tuple[int, Decision] | None:
    """Where the default policy stops the curve, its training loss and evaluations fed in step order."""
    train, evals = load(name)
    stopper, state = Stopper(Policy(), Schedule.from_config(read_log(CURVES / name).config)), StopState()
    for step, _, key, value in sorted(
        [(s, 0, "loss", v) for s, v in train] + [(s, 1, "eval_loss", v) for s, v in evals]
    ):
        decision = stopper.observe(state, key=key, step=step, value=value)
        if decision.should_stop:
            return step, decision
    return None


@pytest.mark.curves
@pytest.mark.parametrize("name", with_evals(), ids=[n.split("_")[0] for n in with_evals()])
def test_state_agrees_with_the_default_stop_on_real_curve(name: str) -> None:
    # Read where the default policy stops the run, the diagnosis says what the stop says: risen from its best
    # is overfitting, or diverging when the decision says the training loss rose too; levelling off is a plateau.
    # (It said "unstable" with advice to lower the learning rate beside three overfitting stops, "plateaued"
    # beside one, "too early to judge" beside two stops of 4-evaluation runs, "improving" beside two levelling
    # stops.)
    stopped = _default_stop(name)
    if stopped is None:
        return
    at, decision = stopped
    train, evals = load(name)
    ev = [(s, v) for s, v in evals if s <= at]
    tr = [(s, v) for s, v in train if s <= at]
    companion = (np.array([s for s, _ in tr]), np.array([v for _, v in tr])) if len(tr) >= 2 else None
    config = read_log(CURVES / name).config
    result = diagnose([s for s, _ in ev], [v for _, v in ev], key="eval_loss", companion=companion, config=config)
    facts = decision.facts or {}
    if facts.get("clause") in ("overfitting", "turned"):
        assert result["state"] == ("diverging" if facts.get("train_up") else "overfitting"), result["summary"]
        assert result["overfitting"]["best_step"] == decision.best_step
    else:
        assert facts.get("clause") == "levelling", decision.message
        assert result["state"] == "plateaued", result["summary"]


def _rising_eval() -> tuple[np.ndarray, np.ndarray]:
    return _steps(10, every=100), np.array([2.0, 1.6, 1.4, 1.3, 1.25, 1.3, 1.35, 1.4, 1.45, 1.5])


@pytest.mark.parametrize("level", [0.3, 0.7, 1.1, 2.302585])
def test_state_with_a_constant_training_loss_does_not_depend_on_its_value(level: float) -> None:
    # A constant has no noise, so the float residue of its strip means once read as the training loss rising
    # ("rose with it (0.7 -> 0.7)"), at some constants and not others.
    es, ev = _rising_eval()
    ts = _steps(100)
    result = diagnose(es, ev, key="eval_loss", companion=(ts, np.full(ts.size, level)), config={"max_steps": 1200})
    assert result["state"] == "overfitting" and not result["overfitting"]["train_rising"], result["summary"]


# A fall that flattened a hair above its best: the trend window still reaches back into the fall, so the trend
# test calls it falling, while the readings since the best and the forecast's course say it has levelled off.
FLATTENED = [0.80, 0.66, 0.60, 0.570, 0.555, 0.547, 0.542, 0.540, 0.5392, 0.5402, 0.5398, 0.5404]


@pytest.mark.parametrize(
    ("values", "mode", "state", "says", "never"),
    [
        pytest.param(FLATTENED, "min", "plateaued", "it has levelled off", "Keep training", id="flat-above-the-best"),
        pytest.param(
            [1.0 - v for v in FLATTENED], "max", "plateaued", "it has levelled off", "Keep training", id="accuracy"
        ),
        # One evaluation past the best is a bump as often as a turn: not yet called level, nor "keep training".
        pytest.param(FLATTENED[:-2], "min", "improving", "can still be a bump", "Keep training", id="one-past-best"),
        pytest.param(
            [*FLATTENED[:9], 0.5352, 0.531, 0.527], "min", "improving", "Keep training", "levelled", id="still-falling"
        ),
        # A noisy fall whose best was a lucky dip: its course still falls 4.6% from the latest reading, only not
        # below the dip.
        pytest.param(
            [2.374, 2.436, 2.361, 2.293, 2.253, 2.247, 2.224, 2.131, 2.097, 1.967, 2.067, 2.098],
            "min",
            "improving",
            "was a lucky reading below the curve",
            "levelled",
            id="lucky-dip",
        ),
    ],
)
def test_state_of_a_fall_that_flattened_above_its_best(
    values: list[float], mode: str, state: str, says: str, never: str
) -> None:
    steps = _steps(len(values), every=100)
    key = "eval_accuracy" if mode == "max" else "eval_loss"
    result = diagnose(steps, np.array(values), key=key, mode=mode)
    assert result["state"] == state and says in result["summary"] and never not in result["summary"], result["summary"]
    zh = diagnose(steps, np.array(values), key=key, mode=mode, lang="zh")
    assert zh["state"] == state and ("已经走平" in zh["summary"]) == (state == "plateaued"), zh["summary"]


def test_state_of_a_training_loss_never_speaks_of_its_validation_companion_course() -> None:
    # A slow noisy training fall, significant but within its noise, beside a validation curve that flattened above
    # its best: the training loss's words said "none of its readings since step 1000 beat the best" from the
    # validation curve's forecast.
    ts = _steps(1200, every=1)
    train = 0.9 - 0.00006 * ts + np.random.default_rng(3).normal(0, 0.03, ts.size)
    result = diagnose(ts, train, key="loss", companion=(_steps(len(FLATTENED), every=100), np.array(FLATTENED)))
    assert result["state"] == "plateaued" and result["overfitting"]["stop_rule_course_end"] is not None
    assert (
        "none of its readings since" not in result["summary"]
        and "smaller than one reading's noise" in result["summary"]
    ), result["summary"]


@pytest.mark.parametrize("plan", [1200, 1201, 1250, 4800])
def test_state_of_a_healthy_run_at_its_planned_end_does_not_read_a_lucky_best_as_overfitting(plan: int) -> None:
    # A noisy fall whose best (1.967) came two evaluations before the planned end: read as if the run went on,
    # as the rule reads a run at its plan, it is still improving; read as if one more evaluation were all that
    # was left, the rule would call it overfitting (healthy runs did, at their last two evaluations). A plan a
    # few steps past the last evaluation (1201, 1250: HF's epochs rarely end on an evaluation) leaves no
    # evaluation either, and is read the same way.
    steps = _steps(12, every=100)
    values = np.array([2.374, 2.436, 2.361, 2.293, 2.253, 2.247, 2.224, 2.131, 2.097, 1.967, 2.067, 2.098])
    result = diagnose(steps, values, key="eval_loss", config={"max_steps": plan}, ended=True)
    assert result["state"] == "improving", result["summary"]


def test_state_with_a_sparse_training_loss_does_not_read_a_hair_as_a_rise() -> None:
    # Two training points, 2.065 and 2.0651: no noise scale to judge them by, and a hair is no rise (it read as
    # training going wrong); a sparse training loss counts only beyond a quarter of its level.
    steps = np.array([132 * k for k in range(1, 9)], dtype=np.int64)
    values = np.array([2.316, 2.453, 2.428, 2.337, 2.011, 2.06, 2.203, 2.233])
    result = diagnose(steps, values, key="eval_loss", companion=([500, 1000], [2.065, 2.0651]))
    assert result["state"] != "diverging" and not result["overfitting"]["train_rising"], result["summary"]


@pytest.mark.parametrize(
    ("clause", "train_rising", "state"),
    [
        ("overfitting", False, "overfitting"),
        ("turned", False, "overfitting"),
        ("overfitting", True, "diverging"),
        ("turned", True, "diverging"),
        ("levelling", False, "plateaued"),
        (None, False, None),
    ],
)
def test_state_of_each_stop_clause(clause: str | None, train_rising: bool, state: str | None) -> None:
    overfit = {"validation": "key", "stop_rule": clause, "train_rising": train_rising}
    assert _stopped_as("eval_loss", overfit) == state
    assert _stopped_as("loss", overfit) is None  # a training key reads its own curve


def test_state_with_a_one_point_training_loss_is_the_state_without_one() -> None:
    steps, values, kwargs = overfitting_on_four_evaluations_rising_from_the_first()
    alone = diagnose(steps, values, key="eval_loss", config=kwargs["config"])
    with_one = diagnose(steps, values, key="eval_loss", companion=([250], [0.3]), config=kwargs["config"])
    assert with_one["state"] == alone["state"] == "overfitting"


def test_state_of_a_key_longer_than_a_policy_allows_is_still_read() -> None:
    steps, values, _ = overfitting_on_a_large_u_without_training()
    assert diagnose(steps, values, key="eval_" + "x" * 250)["state"] == "overfitting"


def test_state_of_readings_near_the_float_limit_warns_nothing() -> None:
    steps, values, _ = overfitting_on_a_large_u_without_training()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert diagnose(steps, 1e160 * values, key="eval_loss")["state"] == "overfitting"
