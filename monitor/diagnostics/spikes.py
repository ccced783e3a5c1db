"""Spikes: single readings far worse than the few just before them.

Each point is scored against the median and MAD of the points before it (a trailing window, so
the latest point is judged as soon as it arrives, as a live monitor must). A spike is a point;
whether the curve *stays* up is the divergence rule's business, so one early outlier is listed
here and never turns a run into "diverging".
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .robust import MAD_TO_SIGMA, noise_sigma

# The trailing reference: enough points for a stable median/MAD, few enough to follow the trend.
WINDOW = 20

# The first points of a loss fall fast (and an mT5 run starts at 25 before dropping to 4): they
# are the trend, not outliers, so scoring starts after this many points, with at least this many
# points of reference.
WARMUP = 10

# Gaussian noise exceeds 5 sigma one-sidedly with probability 2.9e-7: about one false alarm in a
# million-point scan, while real loss spikes are tens of sigma.
Z_THRESHOLD = 5.0

# The local scale has two floors. Flat stretches and rounded logs give a MAD of 0, which would
# make any change infinite: 1% of the local level, so a rise below 5% (5 x 1%) is never a spike.
# And a MAD of 20 points is itself noisy (~25% standard error): by chance it comes out small and
# Gaussian noise then yields ~2 false spikes per 4096 points; flooring it at the trend-free noise
# of the whole scanned span (robust.noise_sigma) brings that to ~0 in simulation.
RELATIVE_FLOOR = 0.01

# z-scores are capped so that a jump off a perfectly flat zero line stays a finite JSON number.
Z_CAP = 1e6

# Spikes are searched in the most recent points only, so a 1M-point series stays cheap; older
# spikes no longer describe the run's current health.
MAX_SCAN = 4096

# Listed spikes (the most recent); `count` has them all.
MAX_LISTED = 50


def _trailing_stats(x: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray]:
    """Median and robust scale of the up-to-WINDOW points before each index from `start` on."""
    n = x.size
    med = np.empty(n - start)
    scale = np.empty(n - start)
    full_from = max(start, WINDOW)
    # Early indices have a shorter history (between WARMUP and WINDOW points): a short loop.
    for i in range(start, min(full_from, n)):
        ref = x[max(0, i - WINDOW) : i]
        med[i - start] = np.median(ref)
        scale[i - start] = MAD_TO_SIGMA * np.median(np.abs(ref - med[i - start]))
    if full_from < n:
        win = sliding_window_view(x[full_from - WINDOW : n - 1], WINDOW)
        m = np.median(win, axis=1)
        med[full_from - start :] = m
        scale[full_from - start :] = MAD_TO_SIGMA * np.median(np.abs(win - m[:, None]), axis=1)
    return med, scale


def find_spikes(steps: np.ndarray, x: np.ndarray, sign: float) -> dict[str, Any]:
    """Upward (worse) spikes of the oriented finite values `x`; values are reported as logged.

    Only the bad direction counts: while a loss falls, points below the trailing median are the
    trend itself, and a sudden improvement is not what anyone needs warning about.
    """
    n = x.size
    start = max(WARMUP, n - MAX_SCAN)
    out: dict[str, Any] = {
        "count": 0,
        "items": [],
        "threshold_z": Z_THRESHOLD,
        "window": WINDOW,
        "warmup": WARMUP,
        "scanned_from_step": int(steps[start]) if start < n else None,
    }
    if start >= n:
        return out
    med, scale = _trailing_stats(x, start)
    floor = np.maximum(RELATIVE_FLOOR * np.abs(med), max(noise_sigma(x[start - min(start, WINDOW) :]), 1e-300))
    scale = np.maximum(scale, floor)
    dev = x[start:] - med
    with np.errstate(over="ignore"):
        z = np.minimum(dev / scale, Z_CAP)
    hit = np.flatnonzero(z >= Z_THRESHOLD)
    out["count"] = int(hit.size)
    out["items"] = [
        {"step": int(steps[start + i]), "value": float(sign * x[start + i]), "z": float(z[i])}
        for i in hit[-MAX_LISTED:]
    ]
    return out
