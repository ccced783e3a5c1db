"""Input cleaning and the facts every diagnostic needs: orientation, windows, key roles."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

Mode = Literal["min", "max"]

# A Mann-Kendall test of a perfectly monotone series of n points has exact two-sided p = 2/n!:
# 0.083 for n=4 and 0.017 for n=5. Below 5 points no trend can be significant at 5%, so any
# reading would be a guess.
MIN_POINTS = 5

# "Recent" is the right end of the plot, where a person looks to decide: the last quarter of the
# points, but at least 10 so that the trend test has power (a monotone run of 10 has p < 1e-6)
# even on a short eval series.
RECENT_FRACTION = 0.25
RECENT_MIN_POINTS = 10

_SCHEDULE_RE = re.compile(r"(^|[/_.\-])(learning_rate|lr|epoch)([/_.\-]|$)", re.IGNORECASE)


@dataclass(frozen=True)
class Series:
    """A metric series sorted by step with one value per step.

    `x` is the finite values oriented so that lower is better (negated for mode "max"), which
    lets every rule be written once; `values` keeps the original units for reporting.
    """

    steps: np.ndarray
    values: np.ndarray
    sign: float
    finite: np.ndarray

    @property
    def fsteps(self) -> np.ndarray:
        return self.steps[self.finite]

    @property
    def x(self) -> np.ndarray:
        return self.sign * self.values[self.finite]

    @property
    def n(self) -> int:
        return int(self.finite.sum())

    def recent_size(self) -> int:
        return recent_size(self.n)


def recent_size(n: int) -> int:
    return min(n, max(RECENT_MIN_POINTS, math.ceil(RECENT_FRACTION * n)))


def prepare(steps: object, values: object, mode: str = "min") -> Series:
    """Validate and normalise: sort by step and keep the last value logged for a step.

    A resumed run or two writers can log a step twice; the later value is what the trainer
    continued from, as in the store (last write wins).
    """
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', not {mode!r}")
    s = np.asarray(steps, dtype=np.int64).reshape(-1)
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if s.shape != v.shape:
        raise ValueError(f"steps and values differ in length ({s.size} != {v.size})")
    if s.size > 1 and not bool(np.all(s[1:] > s[:-1])):
        order = np.argsort(s, kind="stable")
        s, v = s[order], v[order]
        last = np.ones(s.size, dtype=bool)
        last[:-1] = s[1:] != s[:-1]
        s, v = s[last], v[last]
    return Series(steps=s, values=v, sign=-1.0 if mode == "max" else 1.0, finite=np.isfinite(v))


def is_schedule_key(key: str) -> bool:
    """Values that are set by a schedule, not learned: learning rate, epoch counter."""
    return bool(_SCHEDULE_RE.search(key))
