"""Robust trend of a window of a curve: Theil-Sen slope with its interval, Mann-Kendall p-value.

Theil-Sen (the median of pairwise slopes) ignores up to ~29% outliers, so one loss spike cannot
tilt it, and its confidence interval is the inversion of Kendall's test, so "the interval contains
0" and "Mann-Kendall is not significant" tell the same story.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from .robust import thin_indices

# Two-sided significance level for "the curve is really moving"; the usual 5%.
SIGNIFICANCE = 0.05

# Theil-Sen costs O(n^2) time and memory in the number of pairs: 1000 points are 500k pairs
# (a few ms). Longer windows are thinned evenly to this many readings.
TREND_MAX_POINTS = 1000

# Trends need at least 3 points to have a median of pairwise slopes worth reporting.
TREND_MIN_POINTS = 3


def window_trend(steps: np.ndarray, values: np.ndarray) -> dict[str, Any]:
    """Trend of finite `values` (original units) against `steps` over one window.

    `change` is the Theil-Sen slope times the window's span: how far the fitted line moved, which
    unlike last-minus-first is not at the mercy of the two end points' noise. `relative_change` is
    the fitted line's move with both its ends held within the readings' range, over its value at the
    window's start (None when that is 0).
    """
    n = int(values.size)
    out: dict[str, Any] = {
        "start_step": int(steps[0]) if n else None,
        "end_step": int(steps[-1]) if n else None,
        "n_points": n,
        "slope_per_1k_steps": None,
        "slope_ci_per_1k_steps": [None, None],
        "p_value": None,
        "change": None,
        "relative_change": None,
        "significant": False,
        "direction": "flat",
    }
    if n < TREND_MIN_POINTS or steps[-1] == steps[0]:
        return out
    idx = thin_indices(n, TREND_MAX_POINTS)
    s = steps[idx].astype(np.float64)
    v = values[idx]
    if np.all(v == v[0]):
        # A constant window: scipy returns NaN for Kendall's tau; there is no evidence of a trend.
        slope = low = high = 0.0
        p = 1.0
    else:
        ts = stats.theilslopes(v, s, alpha=1.0 - SIGNIFICANCE)
        slope, low, high = float(ts.slope), float(ts.low_slope), float(ts.high_slope)
        p = float(stats.kendalltau(s, v).pvalue)
        if not math.isfinite(p):
            p = 1.0
    change = slope * float(steps[-1] - steps[0])
    # Relative to the fitted level at the window's start: "lost x% of where it was". The line's ends are
    # held within the readings' range: a straight line through a steep convex fall (15 -> 0.3) starts and
    # ends beyond it, and a positive loss cannot lose more than all of where it was.
    lo, hi = float(np.min(v)), float(np.max(v))
    level = float(np.median(v)) + slope * (float(steps[0]) - float(np.median(s)))
    start, end = min(max(level, lo), hi), min(max(level + change, lo), hi)
    significant = p < SIGNIFICANCE and (low > 0.0 or high < 0.0)
    out.update(
        slope_per_1k_steps=slope * 1000.0,
        slope_ci_per_1k_steps=[low * 1000.0, high * 1000.0],
        p_value=p,
        change=change,
        relative_change=(end - start) / abs(start) if start != 0.0 else None,
        significant=bool(significant),
        direction=("decreasing" if slope < 0 else "increasing") if significant else "flat",
    )
    return out
