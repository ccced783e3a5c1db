"""How much one reading of a curve scatters, from what the curve itself shows.

Successive differences cancel the level and, taken around their median, a steady trend too, so a curve
that falls or rises steadily reads as quiet and a curve that jumps about reads as noisy. The MAD keeps
one outlier from setting the scale.
"""

from __future__ import annotations

import math

import numpy as np

MAD_TO_SIGMA = 1.4826


def reading_sigma(values: np.ndarray) -> float | None:
    """The noise of one reading: MAD of successive differences around their median, over sqrt(2).

    None below 3 readings (2 differences), where a spread cannot be told from a trend."""
    y = np.asarray(values, dtype=np.float64)
    y = y[np.isfinite(y)]
    if y.size < 3:
        return None
    d = np.diff(y)
    return MAD_TO_SIGMA * float(np.median(np.abs(d - np.median(d)))) / math.sqrt(2.0)


def spread_sigma(values: np.ndarray) -> float | None:
    """The plain (not robust) scale of successive differences around their mean, over sqrt(2). Where the
    MAD trusts the quiet majority, this one counts every jump: a curve that switches between two levels
    reads as noisy here and quiet there. None below 3 readings."""
    y = np.asarray(values, dtype=np.float64)
    y = y[np.isfinite(y)]
    if y.size < 3:
        return None
    return float(np.std(np.diff(y), ddof=1)) / math.sqrt(2.0)


def relative_scatter(values: np.ndarray) -> float | None:
    """`reading_sigma` as a share of the curve's typical magnitude (its median absolute value)."""
    sigma = reading_sigma(values)
    if sigma is None:
        return None
    scale = float(np.median(np.abs(np.asarray(values, dtype=np.float64)[np.isfinite(values)])))
    return sigma / scale if scale > 0 else None


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
