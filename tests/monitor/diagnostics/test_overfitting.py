from __future__ import annotations

import numpy as np
import pytest

from losswatch.monitor.diagnostics.overfitting import GL_THRESHOLD, overfitting, train_at_evals


def test_train_at_evals_is_the_mean_of_each_strip() -> None:
    train_steps = np.array([10, 20, 30, 40, 50, 60], dtype=np.int64)
    train = np.array([4.0, 2.0, 3.0, 1.0, 5.0, 7.0])
    mean, count = train_at_evals(np.array([5, 20, 40, 45, 60], dtype=np.int64), train_steps, train)
    # Step 5 precedes every training point: nothing to read. Step 45 falls between the logs at 40 (1.0)
    # and 50 (5.0): the training loss interpolated there, weight 1.
    np.testing.assert_array_equal(count, [0, 2, 2, 1, 2])
    np.testing.assert_allclose(mean, [np.nan, 3.0, 2.0, 3.0, 6.0])


def test_overfitting_reads_a_training_loss_logged_more_sparsely_than_eval() -> None:
    # Evaluation every 100 steps, training loss only every 300: most strips hold no training point.
    eval_steps = np.arange(1, 13, dtype=np.int64) * 100
    ev = np.array([1.2, 1.0, 0.9, 0.85, 0.82, 0.84, 0.9, 0.97, 1.05, 1.12, 1.2, 1.29])
    train_steps = np.arange(300, 1201, 300, dtype=np.int64)
    train = np.array([0.8, 0.3, 0.05, 0.01])
    out = overfitting(eval_steps, ev, 1.0, train_steps, train, 0.5)
    assert out["detected"] and out["best_step"] == 500 and not out["train_rising"], out


def _pair(eval_values: list[float], train_level: list[float]) -> dict:
    """Evaluations every 100 steps; 10 training points per strip at the given levels."""
    eval_steps = np.arange(1, len(eval_values) + 1, dtype=np.int64) * 100
    train_steps = np.arange(10, eval_steps[-1] + 1, 10, dtype=np.int64)
    train = np.repeat(np.array(train_level), 10) + np.tile([0.001, -0.001], 5 * len(train_level))
    ev = np.array(eval_values)
    slope = float(np.polyfit(eval_steps[-5:], ev[-5:], 1)[0])
    return overfitting(eval_steps, ev, 1.0, train_steps, train, slope)


def test_prechelt_numbers_on_a_hand_computed_example() -> None:
    evals = [2.0, 1.8, 1.6, 1.5, 1.52, 1.56, 1.6, 1.62]
    trains = [2.0, 1.7, 1.5, 1.4, 1.3, 1.2, 1.1, 1.0]
    o = _pair(evals, trains)
    assert (o["best_step"], o["best_value"]) == (400, 1.5)
    assert o["generalization_loss"] == pytest.approx(100 * (1.62 / 1.5 - 1))
    assert o["current_value"] == pytest.approx(1.6)  # median of the last 3 evaluations
    # P_5 over the last five strips (1.4 .. 1.0): 1000 * (sum / (5 * min) - 1).
    progress = 1000 * (sum([1.4, 1.3, 1.2, 1.1, 1.0]) / (5 * 1.0) - 1)
    assert o["training_progress"] == pytest.approx(progress, rel=1e-6)
    assert o["progress_quotient"] == pytest.approx(o["generalization_loss"] / progress, rel=1e-6)
    assert (o["train_at_best"], o["train_now"]) == (pytest.approx(1.4), pytest.approx(1.1))
    assert o["validation_rising"] and o["train_falling"] and o["detected"]


def test_no_overfitting_when_training_rises_with_validation() -> None:
    # Both getting worse together is a run going wrong as a whole, not the model fitting its training data.
    o = _pair([2.0, 1.8, 1.6, 1.5, 1.52, 1.56, 1.6, 1.62], [1.5, 1.4, 1.3, 1.2, 1.3, 1.4, 1.5, 1.6])
    assert o["validation_rising"] and o["train_rising"] and not o["detected"]


def test_overfitting_when_training_sits_at_its_floor() -> None:
    # Training flat (a loss at its floor cannot fall further) while validation turns up: overfitting.
    o = _pair([2.0, 1.8, 1.6, 1.5, 1.52, 1.56, 1.6, 1.62], [0.01] * 8)
    assert o["validation_rising"] and not o["train_falling"] and not o["train_rising"] and o["detected"]


def test_no_overfitting_when_the_rise_is_within_the_noise() -> None:
    rng = np.random.default_rng(0)
    evals = list(1.5 + rng.normal(0, 0.05, 12))
    o = _pair(evals, list(np.linspace(2.0, 1.0, 12)))
    assert not o["detected"]


def test_no_overfitting_below_prechelt_gl_threshold() -> None:
    # Validation rises cleanly but by 0.5%, below GL_1.
    o = _pair([2.0, 1.5, 1.5025, 1.505, 1.5075], [2.0, 1.8, 1.6, 1.4, 1.2])
    assert o["generalization_loss_current"] < GL_THRESHOLD and not o["detected"]


def test_best_at_the_last_evaluation_is_not_overfitting() -> None:
    o = _pair([2.0, 1.9, 1.8, 1.7], [2.0, 1.8, 1.6, 1.4])
    assert o["generalization_loss"] == 0.0 and not o["detected"]


# Validation that fell to its best at step 400, climbed to 1.8 and stayed there (a wobble of +-0.002), with
# training falling all along: the rise is over, the overfit is not.
RISEN_THEN_LEVEL = [2.0, 1.8, 1.6, 1.5, 1.65, 1.8] + [1.8 + 0.002 * (-1) ** i for i in range(14)]


@pytest.mark.parametrize(
    ("evals", "falling", "detected"),
    [
        pytest.param(RISEN_THEN_LEVEL, False, True, id="risen-then-level"),
        # The same level, but its recent window falls significantly: on its way back, not overfitting now.
        pytest.param(RISEN_THEN_LEVEL, True, False, id="risen-coming-back"),
        # One reading of the recent window back near the best: the rise did not hold.
        pytest.param(RISEN_THEN_LEVEL[:-3] + [1.51, 1.8, 1.8], False, False, id="risen-one-dip-to-best"),
        # Level from the start: no best before the window to have risen from.
        pytest.param([1.8 + 0.002 * (-1) ** i for i in range(20)], False, False, id="level-throughout"),
    ],
)
def test_overfitting_reads_a_rise_that_levelled_off(evals: list[float], falling: bool, detected: bool) -> None:
    eval_steps = np.arange(1, len(evals) + 1, dtype=np.int64) * 100
    train_steps = np.arange(10, eval_steps[-1] + 1, 10, dtype=np.int64)
    train = np.linspace(2.0, 0.5, train_steps.size)
    # A flat recent slope: the window is level, so only the held rise can make it count.
    o = overfitting(eval_steps, np.array(evals), 1.0, train_steps, train, 0.0, falling)
    assert o["detected"] is detected, o


def test_a_level_jump_without_training_is_not_read_as_overfitting() -> None:
    # Without a training loss a jump that stays is as much a run gone wrong as an overfit: the state's
    # divergence rule reads it; a climb (headed up) would still be overfitting.
    evals = np.array(RISEN_THEN_LEVEL)
    steps = np.arange(1, evals.size + 1, dtype=np.int64) * 100
    empty = np.empty(0)
    o = overfitting(steps, evals, 1.0, empty.astype(np.int64), empty, 0.0, False)
    assert o["validation_rising"] and not o["detected"], o


def test_one_lucky_reading_on_a_flat_stretch_is_not_a_rise() -> None:
    # A metric that climbed to a level and stays there, with one lucky reading at evaluation 12: the level
    # after it is no higher than before it, so nothing rose (eval_accuracy oriented: lower is better).
    level = [-0.5 - 0.35 * (1 - np.exp(-k / 3)) for k in range(1, 11)]
    flat = [-0.85 + 0.003 * (-1) ** k for k in range(20)]
    evals = np.array(level + flat)
    evals[11] = -0.875
    steps = np.arange(1, evals.size + 1, dtype=np.int64) * 100
    train_steps = np.arange(10, steps[-1] + 1, 10, dtype=np.int64)
    o = overfitting(steps, evals, -1.0, train_steps, np.linspace(2.0, 0.5, train_steps.size), 0.0, False)
    assert not o["detected"], o
