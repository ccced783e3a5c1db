"""Downsampling that keeps what the eye looks for: every bucket's extremes, the first and the last point."""

from __future__ import annotations

import numpy as np


def minmax_indices(values: np.ndarray, max_points: int) -> np.ndarray:
    """Indices (sorted) of at most `max_points` points: first, last, and each bucket's min and max.

    NaN and +Inf count as the largest values and -Inf as the smallest, so a blow-up survives.
    """
    n = int(values.size)
    if n <= max_points:
        return np.arange(n)
    if max_points < 4:
        return np.array([0, n - 1][: max(max_points, 1)])
    buckets = (max_points - 2) // 2
    hi = np.where(np.isnan(values), np.inf, values)
    edges = np.linspace(1, n - 1, buckets + 1).astype(np.int64)
    keep = [np.array([0, n - 1])]
    starts, ends = edges[:-1], edges[1:]
    valid = ends > starts
    starts, ends = starts[valid], ends[valid]
    if starts.size:
        # reduceat gives each bucket's extreme value; one vectorised pass finds where it sits.
        bmax = np.maximum.reduceat(hi, starts)[: starts.size]
        bmin = np.minimum.reduceat(hi, starts)[: starts.size]
        bucket_of = np.repeat(np.arange(starts.size), ends - starts)
        idx = np.arange(starts[0], ends[-1])
        seg = hi[starts[0] : ends[-1]]
        keep.append(_first_match(idx, seg == bmax[bucket_of], bucket_of, starts.size))
        keep.append(_first_match(idx, seg == bmin[bucket_of], bucket_of, starts.size))
    return np.unique(np.concatenate(keep))


def _first_match(idx: np.ndarray, hit: np.ndarray, bucket_of: np.ndarray, nb: int) -> np.ndarray:
    pos = np.full(nb, -1, dtype=np.int64)
    hits = np.flatnonzero(hit)
    # Assign in reverse so the first hit of each bucket wins.
    pos[bucket_of[hits[::-1]]] = idx[hits[::-1]]
    return pos[pos >= 0]
