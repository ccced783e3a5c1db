"""The training-loss guard: a run whose loss has blown up and stays up is stopped, a run that hiccups is not.

A point is *up* when it is above all of:
  - GUARD_FACTOR x the best smoothed level (EMA 0.6, debiased): far above its best, relative, so a loss
    that converged to exactly 0 is never "up" at 0 x 2;
  - the first value: worse than before any training, which a plateau or ordinary noise never is;
  - NOISE_K sigmas of the curve's own point-to-point noise above its best level, the noise measured on
    the healthy points only (an excursion does not get to widen its own tolerance).
Up points in a row make an *excursion*; it is a divergence only once it has lasted GUARD_POINTS points
and SUSTAIN_SHARE of the run (of the planned steps when the config says, else of the steps so far), all
after warm-up: a spike, a burst, or a warm-up instability that recovers resets it.
A run that will be evaluated is not stopped by the guard before its first evaluation unless the loss is
beyond recovery: frozen at its high value (a dead model: the same value FROZEN_POINTS times) or still
climbing (at least CLIMB_SHARE of its steps up, and GUARD_FACTOR x where the excursion began).

State lives in a JSON dict, O(1) per point; `feed` takes a batch and runs the all-clear stretches
vectorised, with exactly the arithmetic of one point at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import signal

from .schedule import Schedule

LEVEL_SMOOTHING = 0.6
BIAS_STEPS = 200
GUARD_FACTOR = 2.0
NOISE_K = 5.0
# Weight of the running mean of |successive differences|: a memory of about 10 healthy points.
NOISE_SMOOTHING = 0.9
# Mean |difference| of two independent normal readings is 2 sigma / sqrt(pi): this turns it into sigma.
ABS_DIFF_TO_SIGMA = math.sqrt(math.pi) / 2.0
GUARD_POINTS = 5
# A trained model's loss varies from batch to batch; the same value this many times in a row is a model
# that no longer changes (its weights are NaN-free but dead).
FROZEN_POINTS = 3
SUSTAIN_SHARE = 0.05
CLIMB_SHARE = 0.75
TAIL = 16
# The stretch read for all-clear points after an up point (see `feed`).
WINDOW = 8


# A training loss "rose" when its smoothed level sits this many sigmas of its own noise above its best level.
ROSE_SIGMAS = 3.0


def rose(g: dict[str, Any]) -> tuple[float, float] | None:
    """(smoothed level now, best level) when the training loss fed to the guard state `g` has risen beyond
    its noise from its best, else None. A validation curve that turns up while this holds is not
    overfitting (that needs the training loss still falling) but training going wrong."""
    n = g.get("n", 0)
    if n < 2 or "best" not in g:
        return None
    level = _level(g["ema"], n)
    sigma = ABS_DIFF_TO_SIGMA * g.get("mad", 0.0)
    return (level, g["best"]) if sigma > 0 and level > g["best"] + ROSE_SIGMAS * sigma else None


@dataclass(frozen=True)
class Verdict:
    step: int
    value: float
    limit: float
    best: float
    first: float
    points: int
    start: int
    kind: str  # "sustained" | "frozen" | "climbing"


def _level(ema: float, n: int) -> float:
    """The smoothed level after `n` points: the EMA with its start-up bias taken out."""
    return ema / (1 - LEVEL_SMOOTHING**n)


def _point(g: dict[str, Any], step: int, v: float) -> float:
    """One finite point into the state (the reference arithmetic); returns the limit it was judged by."""
    w = LEVEL_SMOOTHING
    n = g.get("n", 0) + 1
    ema = g.get("ema", 0.0) * w + (1 - w) * v
    level = _level(ema, n)
    first = g.get("first", v)
    best = min(g.get("best", level), level)
    limit = max(GUARD_FACTOR * best, first, best + NOISE_K * ABS_DIFF_TO_SIGMA * g.get("mad", 0.0))
    g.update(n=n, ema=ema, first=first, best=best)
    if v > limit:
        if not g.get("over", 0):
            g["start"] = step
            g["tail"] = []
        g["over"] = g.get("over", 0) + 1
        g["tail"] = [*g["tail"], v][-TAIL:]
        return limit
    g["over"] = 0
    g.pop("tail", None)
    g.pop("start", None)
    if "prev" in g:
        g["mad"] = g.get("mad", 0.0) * NOISE_SMOOTHING + (1 - NOISE_SMOOTHING) * abs(v - g["prev"])
    g["prev"] = v
    return limit


def _verdict(
    g: dict[str, Any], step: int, v: float, limit: float, schedule: Schedule, eval_pending: bool
) -> Verdict | None:
    over = g.get("over", 0)
    if over < GUARD_POINTS or schedule.in_warmup(step):
        return None
    tail = g["tail"]
    info = dict(step=step, value=v, limit=limit, best=g["best"], first=g["first"], points=over, start=g["start"])
    last = tail[-FROZEN_POINTS:]
    if len(last) == FROZEN_POINTS and max(last) == min(last):
        return Verdict(kind="frozen", **info)
    ups = sum(b > a for a, b in zip(tail, tail[1:], strict=False))
    if len(tail) > 1 and ups >= CLIMB_SHARE * (len(tail) - 1) and tail[-1] >= GUARD_FACTOR * tail[0]:
        return Verdict(kind="climbing", **info)
    if eval_pending:
        return None
    base = schedule.planned_steps or step
    since = max(g["start"], schedule.warmup_steps)
    if step - since < SUSTAIN_SHARE * base:
        return None
    return Verdict(kind="sustained", **info)


def feed(
    g: dict[str, Any], steps: list[int], values: np.ndarray, schedule: Schedule, eval_pending: bool
) -> Verdict | None:
    """Finite training-loss points, in step order, into the guard state `g`; the first divergence found."""
    i, window = 0, values.size
    while i < values.size:
        # The levels are read over the whole batch at first (one pass for a healthy batch), then, after an up
        # point, over a window that starts small and doubles while it comes back all clear: a batch that keeps
        # crossing the lower bound (a loss jumping between two levels) would otherwise re-read all the rest
        # of the batch at every crossing, O(n^2).
        j, levels = _all_clear_until(g, values[i : i + window])
        window = 2 * window if j == window else WINDOW
        if j:
            _clear_run(g, values[i : i + j], levels)
            i += j
            continue
        limit = _point(g, steps[i], float(values[i]))
        found = _verdict(g, steps[i], float(values[i]), limit, schedule, eval_pending)
        if found is not None:
            return found
        i += 1
    return None


# The EMA, the point count and the running best level, one entry per point.
Levels = tuple[np.ndarray, np.ndarray, np.ndarray]


def _levels(g: dict[str, Any], v: np.ndarray) -> Levels:
    w = LEVEL_SMOOTHING
    ema, _ = signal.lfilter([1 - w], [1.0, -w], v, zi=[w * g.get("ema", 0.0)])
    n = g.get("n", 0) + np.arange(1, v.size + 1)
    # Past BIAS_STEPS the bias correction is exactly 1 in float64; w**n would only underflow into
    # subnormals there, which cost the CPU a slow path per element.
    level = ema / (1 - np.power(w, np.minimum(n, BIAS_STEPS).astype(np.float64)))
    best = np.minimum.accumulate(level if "best" not in g else np.minimum(level, g["best"]))
    return ema, n, best


def _all_clear_until(g: dict[str, Any], v: np.ndarray) -> tuple[int, Levels | None]:
    """How many leading points are surely not up (below a lower bound of the limit that ignores the
    noise term); 0 when the first one may be up. Such points only move the levels and the noise. The
    levels come back too: they are causal, so their first j entries are those of the first j points."""
    if g.get("over", 0) or v.size < 2:
        return 0, None
    levels = _levels(g, v)
    first = g.get("first", float(v[0]))
    up = np.flatnonzero(v > np.maximum(GUARD_FACTOR * levels[2], first))
    return (int(up[0]) if up.size else int(v.size)), levels


def _clear_run(g: dict[str, Any], v: np.ndarray, levels: Levels | None = None) -> None:
    ema, n, best = _levels(g, v) if levels is None else (a[: v.size] for a in levels)
    first = g.get("first", float(v[0]))
    prev = np.concatenate(([g["prev"]], v[:-1])) if "prev" in g else v[:-1]
    diffs = np.abs(v[v.size - prev.size :] - prev)
    mad = g.get("mad", 0.0)
    if diffs.size:
        a = NOISE_SMOOTHING
        out, _ = signal.lfilter([1 - a], [1.0, -a], diffs, zi=[a * mad])
        mad = float(out[-1])
    k = v.size - 1
    g.update(n=int(n[k]), ema=float(ema[k]), first=first, best=float(best[k]), over=0, prev=float(v[k]))
    if diffs.size:
        g["mad"] = mad
    g.pop("tail", None)
    g.pop("start", None)
