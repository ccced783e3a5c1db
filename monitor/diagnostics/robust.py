"""Robust building blocks shared by the diagnostics: noise scales, rolling medians, thinning.

Training curves have heavy-tailed noise (an unlucky batch), quantised values (HF rounds logged
losses to 4 decimals) and long flat stretches, so every scale here is median-based rather than a
standard deviation, which one outlier can inflate at will.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# 1.4826 * MAD estimates the standard deviation of Gaussian noise; with it, robust scales read in
# the same units as a standard deviation, so thresholds like "5 sigma" keep their usual meaning.
MAD_TO_SIGMA = 1.4826

# Noise is a local property; this many trailing points pin it down to a few percent (the standard
# error of a MAD over n points is about 1.1/sqrt(n)) and keep a 1M-point series cheap.
NOISE_MAX_POINTS = 4096


def mad_sigma(x: np.ndarray) -> float:
    """Robust standard deviation: 1.4826 * median absolute deviation from the median."""
    if x.size == 0:
        return 0.0
    return float(MAD_TO_SIGMA * np.median(np.abs(x - np.median(x))))


def noise_sigma(x: np.ndarray) -> float:
    """Point-to-point noise of a curve, insensitive to its trend.

    Second differences x[k+1] - 2x[k] + x[k-1] cancel any locally linear trend, so a smooth but
    steeply falling eval curve reads as quiet; for white noise of std s they have std s*sqrt(6).
    A residual around a smoother would instead also contain the smoother's lag on steep parts.
    """
    x = x[-NOISE_MAX_POINTS:]
    if x.size < 3:
        return mad_sigma(np.diff(x)) / math.sqrt(2.0) if x.size == 2 else 0.0
    return mad_sigma(np.diff(x, n=2)) / math.sqrt(6.0)


def rolling_median(x: np.ndarray, width: int) -> np.ndarray:
    """Medians of every run of `width` consecutive points (valid positions only)."""
    width = max(1, min(width, x.size))
    if x.size == 0:
        return x.copy()
    return np.median(sliding_window_view(x, width), axis=1)


def thin_indices(n: int, max_points: int) -> np.ndarray:
    """At most `max_points` evenly spaced indices of 0..n-1, always keeping the first and last.

    Thinning (rather than averaging buckets) keeps each kept point a real reading, so noise scales
    and significance keep their meaning; the cost is that statistics describe a sample of the curve.
    """
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))
