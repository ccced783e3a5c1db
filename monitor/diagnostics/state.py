"""The one-word reading of a curve, for any key, with the reasons behind it.

Rules, checked in this order (values oriented so that lower is better):

1. non_finite: the latest reading is NaN or +-Inf - the run is numerically broken now.
2. insufficient_data: fewer than MIN_POINTS finite readings - no trend test can be significant.
3. schedules (learning rate, epoch) are set, not learned: only "improving" (still changing) or
   "plateaued" (constant) apply.
4. overfitting: a validation key whose rise above its best is real (see overfitting.py) while the
   training companion fell since that best.
5. diverging: the recent level sits far above the best level - beyond DIVERGE_NOISE_K noise
   standard deviations *and* more than DIVERGE_RELATIVE of the best's magnitude; for a validation key
   only when its training loss rose with it or is not known (a rise with training flat or falling is
   overfitting).
6. unstable: the swings dominate - many spikes, or high volatility with no significant direction
   and noise that is a sizeable part of everything the curve has moved.
7. improving: the recent Theil-Sen slope is significantly in the good direction (Mann-Kendall
   p < 0.05 and the 95% interval excludes 0) and the fitted change over the window exceeds one
   reading's noise sigma. With many points a tiny drift becomes significant; the second test asks
   that it also be visible: the EMA-0.6 chart's +-2 sigma band is +-1 reading sigma wide.
   A validation curve that passes both but has levelled off is plateaued instead: the default rule
   levels it off, or its window still reaches back into the fall while the readings since its best
   (as many as the rule waits for) and the rule's forecast course stay short of that best, the course
   gaining less than `min_delta` on the latest reading.
8. plateaued: everything else - the recent change is not significant or smaller than the noise, or it
   is a worsening too small to be diverging on a key that cannot be overfitting (a training loss back
   up a little). The contract's list of states has no word for that; the summary says it in words
   ("getting worse again ... now x% worse than its best").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard

import numpy as np

from losswatch.monitor.judgement import rule as stop_rule
from losswatch.monitor.policy import Policy
from losswatch.monitor.vocabulary import is_eval_key

from .robust import rolling_median, thin_indices
from .series import MIN_POINTS, Series, is_schedule_key
from .spikes import MAX_SCAN

STATES = (
    "insufficient_data",
    "improving",
    "plateaued",
    "diverging",
    "overfitting",
    "unstable",
    "non_finite",
)

# The recent level is the median of the last 10 readings (fewer on a short window): a majority
# of them must be up before the curve counts as up, so a burst of one or two spikes cannot.
# The best level is the lowest such median over the whole curve - the same estimator, so a curve
# that is at its best (say, still falling smoothly towards 0) has a rise of exactly 0, and a lone
# lucky reading cannot set the best. The very first reading also counts as a best, because it is
# the model before training: a loss that ends far above where it started has diverged even if it
# never went below its start.
LEVEL_POINTS = 10

# Levels over long series are read on an evenly thinned copy of at most this many readings.
LEVEL_MAX_POINTS = 4096

# "Far above": 5 noise standard deviations (a median of 10 readings has a standard error of
# ~0.4 sigma, so this is > 10 standard errors - never noise) ...
DIVERGE_NOISE_K = 5.0
# ... and 25% above the best's magnitude: minibatch noise, epoch-boundary bumps and mild
# overfitting move a loss by a few percent; a quarter means much of what was learned is lost.
# Both are needed: the noise test alone fires on tiny rises of very smooth curves, the relative
# test alone on curves whose level is close to 0.
DIVERGE_RELATIVE = 0.25

# Unstable by spikes: at least 3 spikes in the recent window, and at least 1% of its scanned readings.
# With a 5-sigma threshold Gaussian noise gives ~3e-7 spikes per reading, so 3 are never chance.
SPIKES_MIN = 3
SPIKES_FRACTION = 0.01

# Unstable by noise: volatility "high" (cv >= 10%), no significant direction, and noise at least
# a tenth of the curve's whole range. The last condition keeps a loss that converged close to 0
# (where any scatter is large relative to the level) from reading as unstable.
UNSTABLE_RANGE_FRACTION = 0.10


@dataclass(frozen=True)
class Reading:
    """The state and the quantities it was decided on (oriented: lower is better)."""

    state: str
    start_level: float | None = None
    best_level: float | None = None
    recent_level: float | None = None
    rise: float | None = None
    curve_range: float | None = None
    change_over_noise: float | None = None
    since_best: int | None = None  # finite readings after the best reading

    def as_dict(self, sign: float) -> dict[str, Any]:
        def orig(v: float | None) -> float | None:
            return None if v is None else sign * v

        return {
            "start_level": orig(self.start_level),
            "best_level": orig(self.best_level),
            "recent_level": orig(self.recent_level),
            "rise_above_best": self.rise,
            "change_over_noise": self.change_over_noise,
            "readings_since_best": self.since_best,
        }


def _levels(x: np.ndarray, window: int) -> tuple[float, float, float, float]:
    """Start, best and recent level and the range of levels of the oriented finite values."""
    width = min(window, LEVEL_POINTS)
    medians = rolling_median(x[thin_indices(x.size, LEVEL_MAX_POINTS)], width)
    start = float(x[0])
    recent = float(np.median(x[-width:]))
    best = min(start, float(medians.min()), recent)
    curve_range = float(max(medians.max(), start, recent) - best)
    return start, best, recent, curve_range


def classify(
    series: Series,
    *,
    key: str,
    recent: dict[str, Any],
    vol: dict[str, Any],
    spikes: dict[str, Any],
    overfit: dict[str, Any] | None,
) -> Reading:
    """Decide the state of `series` from its recent trend, volatility, spikes and overfitting."""
    if series.values.size and not series.finite[-1]:
        return Reading("non_finite")
    # Too few readings for a trend test, but not for the stopping rule, which judges from 3: where it would stop
    # this validation curve, the state says why, so a short run's stop and its reading agree.
    stopped = _stopped_as(key, overfit)
    if series.n < MIN_POINTS and stopped is None:
        return Reading("insufficient_data")

    x = series.x
    window = series.recent_size()
    start, best, level, curve_range = _levels(x, window)
    rise = level - best
    noise = float(vol["noise_std"])
    slope = recent["slope_per_1k_steps"]
    change = recent["change"]
    oriented_change = series.sign * change if change is not None else 0.0
    change_over_noise = abs(oriented_change) / noise if noise > 0 else None
    beyond_noise = abs(oriented_change) > noise
    facts: dict[str, Any] = {
        "start_level": start,
        "best_level": best,
        "recent_level": level,
        "rise": rise,
        "curve_range": curve_range,
        "change_over_noise": change_over_noise,
        "since_best": int(x.size - 1 - int(np.argmin(x))),
    }
    if series.n < MIN_POINTS and stopped is not None:
        return Reading(stopped, **facts)
    moving = bool(recent["significant"]) and beyond_noise
    improving = moving and slope is not None and series.sign * slope < 0

    if is_schedule_key(key):
        return Reading("improving" if moving else "plateaued", **facts)
    if overfit is not None and overfit.get("detected") and is_eval_key(key):
        return Reading("overfitting", **facts)
    if rise > DIVERGE_NOISE_K * noise and rise > DIVERGE_RELATIVE * abs(best):
        # "Diverging" is a training loss blowing up. Validation far above its best while training does not
        # rise with it is the model fitting its training data at validation's expense: overfitting.
        if (
            is_eval_key(key)
            and overfit is not None
            and overfit.get("train_now") is not None
            and not overfit["train_rising"]
        ):
            return Reading("overfitting", **facts)
        return Reading("diverging", **facts)

    if stopped in ("diverging", "overfitting"):
        return Reading(stopped, **facts)

    start_step = recent["start_step"]
    recent_spikes = [s for s in spikes["items"] if start_step is not None and s["step"] >= start_step]
    if len(recent_spikes) >= max(SPIKES_MIN, SPIKES_FRACTION * min(window, MAX_SCAN)):
        return Reading("unstable", **facts)
    if vol["level"] == "high" and not improving and noise >= UNSTABLE_RANGE_FRACTION * curve_range:
        return Reading("unstable", **facts)
    if improving:
        # Still falling beyond its noise, but by less than continuing is worth (the stopping rule's levelling
        # off): a person calls that a plateau, and the stop beside it says so.
        levelled = stopped == "plateaued" or _levelled_above_best(key, overfit, x, series.sign, facts["since_best"])
        return Reading("plateaued" if levelled else "improving", **facts)
    return Reading("plateaued", **facts)


# The default rule's clauses that stop a validation curve for having risen from its best (its overfitting
# clause, and levelling off on a curve that turned up).
RISEN_CLAUSES = ("overfitting", "turned")


def _stopped_as(key: str, overfit: dict[str, Any] | None) -> str | None:
    """The state the default stopping rule's verdict on this validation key stands for, if it would stop it:
    risen from its best, overfitting, or, with the training loss rising too, training going wrong (diverging,
    as the decision says "not overfitting but training going wrong"); levelled off, plateaued. Read after the
    level-jump test, so a validation curve that jumped and stays up without a training loss is still diverging."""
    if not _verdict_on(overfit, key):
        return None
    clause = overfit.get("stop_rule")
    if clause in RISEN_CLAUSES:
        return "diverging" if overfit.get("train_rising") else "overfitting"
    return "plateaued" if clause == "levelling" else None


def _levelled_above_best(key: str, overfit: dict[str, Any] | None, x: np.ndarray, sign: float, since: int) -> bool:
    """Whether a validation curve that still tests as falling (its window reaches back into the fall) has in
    fact levelled off above its best: readings since the best, as many as the default rule needs before it
    calls a rise (`waits_for`: one reading past the best is a bump as often as a turn); the rule's forecast
    course does not get back to the best; and that course gains less than the rule's `min_delta` on the latest
    reading. The last test keeps a noisy fall whose best was a lucky dip improving: its level is still
    expected to fall, only not below that dip."""
    end = overfit.get("stop_rule_course_end") if _verdict_on(overfit, key) else None
    if end is None:
        return False
    p = Policy()
    if since < stop_rule.waits_for(p):
        return False
    scale = abs(float(x.min())) if p.delta_mode == "rel" else 1.0
    return float(x[-1]) - sign * float(end) < p.min_delta * scale


def _verdict_on(overfit: dict[str, Any] | None, key: str) -> TypeGuard[dict[str, Any]]:
    """Whether the default rule's verdict in `overfit` is on `key` itself: a validation key read on its own
    (for a training key it is its validation companion's)."""
    return overfit is not None and is_eval_key(key) and overfit.get("validation") == "key"
