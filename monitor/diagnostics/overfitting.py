"""Overfitting: validation getting worse while training keeps getting better.

Numbers follow Prechelt, "Early Stopping - But When?" (1998):
GL(t) = 100 * (E_va(t) / E_opt(t) - 1), the generalization loss in percent above the best
validation value so far; P_k(t) = 1000 * (sum of the last k training values / (k * their min) - 1),
the training progress over a strip of k evaluations; PQ = GL / P_k, the progress quotient.
Training values "at" an evaluation are the mean of the training points logged in the strip since
the previous evaluation, as Prechelt's per-strip training error.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from .robust import noise_sigma
from .series import recent_size

# Prechelt's most sensitive generalization-loss criterion is GL_1: validation 1% above its best.
# Below that the rise is too small to act on, whatever its significance.
GL_THRESHOLD = 1.0

# The rise above the best must also exceed 3 noise standard deviations of the validation curve:
# the best is the minimum of noisy readings (biased low by ~1.5-2 sigma over a dozen evaluations),
# so smaller rises are what noise alone produces.
NOISE_K = 3.0

# Prechelt's strip length.
STRIP_K = 5

# The current validation level is the median of the last 3 evaluations, so one unlucky evaluation
# cannot declare overfitting and one lucky one cannot hide it.
CURRENT_EVALS = 3

# Training counts as falling when its level dropped by more than 3 standard errors since the best
# evaluation (one-sided, ~0.1%): at 2 a flat training loss "fell" by chance in ~2% of runs.
TRAIN_SE_K = 3.0

# A training loss of fewer points has no noise scale (its second differences need 3 points, their spread 2 of
# them): a rise or fall of it then counts only beyond SPARSE_SHARE of its level, a quarter, which no minibatch
# noise or epoch bump reaches (the state's divergence reading asks the same of a jump).
TRAIN_MIN_POINTS = 4
SPARSE_SHARE = 0.25


# Changes of the training level below this share of it are float residue, not a change.
FLOAT_REL = 1e-9


def train_at_evals(
    eval_steps: np.ndarray, train_steps: np.ndarray, train_values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean training value and number of training points in each strip (previous eval, this eval].

    A training loss logged more sparsely than the evaluations leaves strips empty; those read the training
    loss interpolated at the evaluation's step (weight 1), since its course between logs is what a person
    reads off the plot. Before the first training point there is nothing to read (NaN)."""
    cs = np.concatenate(([0.0], np.cumsum(train_values)))
    idx = np.searchsorted(train_steps, eval_steps, side="right")
    prev = np.concatenate(([0], idx[:-1]))
    count = idx - prev
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (cs[idx] - cs[prev]) / count
    empty = (count == 0) & (idx > 0)
    if empty.any():
        mean[empty] = np.interp(eval_steps[empty], train_steps, train_values)
        count = np.where(empty, 1, count)
    return np.where(count > 0, mean, np.nan), count


# The level a risen curve is measured from: the lowest median of this many consecutive readings before its
# recent window, so one lucky reading on a flat stretch cannot make the whole window look risen above it.
LEVEL_READINGS = 3


def _best_level(x: np.ndarray) -> float:
    if x.size < LEVEL_READINGS:
        return float(np.median(x))
    runs = np.lib.stride_tricks.sliding_window_view(x, LEVEL_READINGS)
    return float(np.min(np.median(runs, axis=1)))


def _reference(t_mean: np.ndarray, b: int, tail_start: int) -> int | None:
    """The evaluation whose training value stands for the training loss at the best: the best's own, or,
    when the training loss was first logged after it (a run that logs it more sparsely than it evaluates),
    the first one logged after the best and before the current evaluations."""
    if math.isfinite(t_mean[b]):
        return b
    after = np.flatnonzero(np.isfinite(t_mean[b + 1 : tail_start]))
    return b + 1 + int(after[0]) if after.size else None


def _ratio_pct(cur: float, best: float) -> float | None:
    return 100.0 * (cur - best) / abs(best) if best != 0.0 else None


def overfitting(
    eval_steps: np.ndarray,
    eval_x: np.ndarray,
    eval_sign: float,
    train_steps: np.ndarray,
    train_values: np.ndarray,
    eval_recent_slope: float | None,
    eval_recent_falling: bool = False,
) -> dict[str, Any]:
    """Read the validation/training pair. `eval_x` is oriented lower-is-better (negated for
    accuracy-like metrics); GL is then the relative worsening from the best, in percent, which for
    a positive loss is exactly Prechelt's GL. `train_values` is a training loss (lower is better).
    `eval_recent_slope` is the oriented Theil-Sen slope of the validation's recent window, and
    `eval_recent_falling` whether that window falls significantly (its trend test).
    """
    out: dict[str, Any] = {
        "detected": False,
        "best_step": None,
        "best_value": None,
        "latest_value": None,
        "current_value": None,
        "generalization_loss": None,
        "generalization_loss_current": None,
        "rise_over_noise": None,
        "validation_rising": False,
        "train_at_best": None,
        "train_now": None,
        "train_falling": False,
        "train_rising": False,
        "training_progress": None,
        "progress_quotient": None,
        "strip_k": STRIP_K,
        "thresholds": {"generalization_loss": GL_THRESHOLD, "noise_k": NOISE_K},
    }
    if eval_x.size < 2:
        return out
    b = int(np.argmin(eval_x))
    best = float(eval_x[b])
    latest = float(eval_x[-1])
    current = float(np.median(eval_x[-CURRENT_EVALS:]))
    gl = _ratio_pct(latest, best)
    gl_current = _ratio_pct(current, best)
    noise = noise_sigma(eval_x)
    rise = current - best
    # Rising: the current level is beyond the noise above the best, and the curve is headed up - over the
    # recent window, or, when the best lies inside that window, over the readings since the best (a window
    # that still holds the descent can make a fall-then-rise look flat; six rises in a row are not).
    since = eval_x[b:]
    since_slope = None
    if since.size >= CURRENT_EVALS and b >= eval_x.size - recent_size(eval_x.size):
        since_slope = float(stats.theilslopes(since, eval_steps[b:].astype(np.float64)).slope)
    headed_up = (eval_recent_slope is not None and eval_recent_slope > 0) or (
        since_slope is not None and since_slope > 0
    )
    rising = rise > NOISE_K * noise and headed_up
    # A rise that is over: validation climbed, then levelled off at its worse level, every reading of the
    # recent window beyond the noise above the best and no significant way back down. With training seen
    # falling that is an overfit as much as a climb is; without it, a level jump is left to the divergence
    # reading (an accuracy that collapses and stays collapsed is a run gone wrong, not a model memorising).
    window = eval_x[-recent_size(eval_x.size) :]
    before = eval_x[: eval_x.size - window.size]
    risen = (
        rise > NOISE_K * noise
        and b < before.size
        and not eval_recent_falling
        and bool(np.all(window - max(best, _best_level(before)) > NOISE_K * noise))
    )
    out.update(
        best_step=int(eval_steps[b]),
        best_value=eval_sign * best,
        latest_value=eval_sign * latest,
        current_value=eval_sign * current,
        generalization_loss=gl,
        generalization_loss_current=gl_current,
        rise_over_noise=rise / noise if noise > 0 else None,
        validation_rising=bool(rising or risen),
    )

    if train_steps.size == 0:
        # No training loss to read against: validation rising beyond its noise since its best is read as
        # overfitting all the same (it is what a person calls a validation curve that turned up).
        out["detected"] = bool(rising and gl_current is not None and gl_current > GL_THRESHOLD)
        return out
    t_mean, t_count = train_at_evals(eval_steps, train_steps, train_values)
    tail = slice(max(0, eval_x.size - CURRENT_EVALS), eval_x.size)
    have_now = np.isfinite(t_mean[tail])
    ref = _reference(t_mean, b, tail.start)
    if ref is None or not have_now.any():
        return out
    t_best = float(t_mean[ref])
    counts_now = t_count[tail][have_now]
    t_now = float(np.average(t_mean[tail][have_now], weights=counts_now))
    t_noise = noise_sigma(train_values)
    se = t_noise * math.sqrt(1.0 / t_count[ref] + 1.0 / counts_now.sum())
    # A noise-free training loss (a constant) has se 0: the float residue of the strip means must not count
    # as a change of it.
    se = max(se, FLOAT_REL * max(abs(t_best), abs(t_now)))
    # The best evaluation must lie before the current ones for "since the best" to mean anything.
    margin = TRAIN_SE_K * se
    if train_steps.size < TRAIN_MIN_POINTS:
        margin = SPARSE_SHARE * max(abs(t_best), abs(t_now))
    falling = b < eval_x.size - 1 and t_best - t_now > margin
    # Training that is not getting worse (falling, or flat at its floor - a loss gone to 0) while validation
    # rises is overfitting; training that rises with it is a run going wrong as a whole.
    train_rising = t_now - t_best > margin
    out.update(train_at_best=t_best, train_now=t_now, train_falling=bool(falling), train_rising=bool(train_rising))

    strips = t_mean[np.isfinite(t_mean)][-STRIP_K:]
    if strips.size and strips.min() > 0:
        progress = 1000.0 * (strips.sum() / (strips.size * strips.min()) - 1.0)
        out["training_progress"] = progress
        if gl is not None and progress > 0:
            out["progress_quotient"] = gl / progress
    out["detected"] = bool(
        (rising or risen) and not train_rising and gl_current is not None and gl_current > GL_THRESHOLD
    )
    return out
