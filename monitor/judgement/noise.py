"""How much one reading of a curve scatters, from what the curve itself shows.

Differences cancel the level. Second differences (y[i+1] - 2 y[i] + y[i-1]), taken around their median,
cancel a steady bend too: a smooth curve that falls, turns and climbs reads as quiet, and a curve that
jumps about reads as noisy. That is the reading noise the stopping rule judges a rise against: first
differences count the bend as noise, so on a smooth U-shaped validation loss the climb itself raised the
noise and a plain overfit ran on 5 evaluations past its best, 25% above it.

First differences (`order=1`) are what a forecast's spread is built from: a bend its families may miss is
part of how far a reading can land from their course. (Held out, second differences there made the
levelling-off stop fire early on curves without a planned end: 1.21% regret on curve 12.)
The MAD keeps one outlier from setting the scale.
"""

from __future__ import annotations

import math

import numpy as np

MAD_TO_SIGMA = 1.4826


def _differences(values: np.ndarray, order: int) -> tuple[np.ndarray, float] | None:
    """The finite readings' differences of `order` (1 or 2) and their noise gain, the square root of
    C(2 order, order): a difference of independent readings has variance 2 sigma^2, a second one 6 sigma^2.
    Three readings give one second difference, which has no spread: their first differences, then. None
    below 3 readings (2 differences), where a spread cannot be told from a trend."""
    y = np.asarray(values, dtype=np.float64)
    y = y[np.isfinite(y)]
    if y.size < 3:
        return None
    order = 1 if y.size == 3 else order
    return np.diff(y, order), math.sqrt(math.comb(2 * order, order))


def reading_sigma(values: np.ndarray, order: int = 2) -> float | None:
    """The noise of one reading: MAD of the differences around their median, over their gain."""
    diffs = _differences(values, order)
    if diffs is None:
        return None
    return _robust(*diffs)


def _robust(d: np.ndarray, gain: float) -> float:
    return MAD_TO_SIGMA * float(np.median(np.abs(d - np.median(d)))) / gain


def upper_reading_sigma(values: np.ndarray, order: int = 2) -> float:
    """`reading_sigma` at the upper end of what its number of differences allows (`upper_sigma`); 0 below 3
    readings. Second differences are one fewer than first ones, and neighbouring ones share readings, so
    they pin the scale down less: counted as first differences, the bound fell below the true noise in 48%
    of 5-reading white-noise series (nominal 20%; 40% counted as they are, 35% for first differences)."""
    diffs = _differences(values, order)
    if diffs is None:
        return 0.0
    sigma = upper_sigma(_robust(*diffs), diffs[0].size)
    if diffs[0].size == 2 and order == 2:
        # Four readings give two second differences; centred on their median they keep one degree of freedom,
        # and a bend through the four readings cancels it: noise that happens to fall in a U or an arch reads as
        # quiet. The first differences, which count a bend as noise, are the floor there.
        sigma = max(sigma, upper_reading_sigma(values, order=1))
    return sigma


def spread_sigma(values: np.ndarray, order: int = 2) -> float | None:
    """The plain (not robust) scale of the differences around their mean, over their gain. Where the MAD
    trusts the quiet majority, this one counts every jump: a curve that switches between two levels reads
    as noisy here and quiet there. None below 3 readings."""
    diffs = _differences(values, order)
    if diffs is None:
        return None
    d, gain = diffs
    return float(np.std(d, ddof=1)) / gain


def expected_best_of(n: int) -> float:
    """How many sigmas below its level the best of `n` independent readings lands, typically.

    Blom's approximation of the expected minimum of n standard normals; 0 for one reading. The best
    value of a noisy curve is such a minimum, so a flat curve keeps producing new "bests" by chance.
    """
    if n <= 1:
        return 0.0
    from scipy.stats import norm

    return float(-norm.ppf((1 - 0.375) / (n + 0.25)))


def luckiest_of(n: int, level: float) -> float:
    """How many sigmas below its level the best of `n` independent readings lands at the optimistic end:
    the best is at least this far down with probability 1 - `level` (P(min <= -x) = 1 - level)."""
    if n < 1:
        return 0.0
    from scipy.special import ndtri

    return float(-ndtri(1.0 - level ** (1.0 / n)))


# How sure the noise scale must be before a rule leans on it: the upper end of its one-sided 80% interval.
NOISE_CONFIDENCE = 0.8


def upper_sigma(sigma: float, n: int, confidence: float = NOISE_CONFIDENCE) -> float:
    """The upper end of a one-sided `confidence` interval for a noise scale estimated from `n` readings
    (chi-square with n - 1 degrees of freedom). A scale read off five readings may well be half the true
    one; leaning on it would stop a noisy run on a lucky stretch. Many readings pin it down (factor -> 1)."""
    if n < 2:
        return sigma
    from scipy.stats import chi2

    dof = n - 1
    return sigma * math.sqrt(dof / float(chi2.ppf(1.0 - confidence, dof)))
