"""Forecast quality on the shared real curves: from the first half of each run, the value at its last step.

For every shared curve whose eval_loss has at least 4 points in the first half of the run (steps up to half
the last eval's step): forecast the eval_loss at the last eval's step from those points alone, and compare
with what the run logged there. Error = |forecast - truth| / the range the first half covered (max - min),
so curves of any scale weigh alike. Baselines: the last value of the first half; a least-squares power law
a + b t^-c (scipy.optimize.curve_fit) through the first half. Coverage: the share of runs whose logged
value lies in the forecast's 80% interval. The forecast's constants (its family set: the power+drift family's
course mixed in or only back-tested, the settled family's exponent; the interval's widening) are chosen
leave-one-out, so every number reported is held out.
    python bench/forecast.py
"""

from __future__ import annotations

import sys
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import optimize

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import write_section  # noqa: E402
from losswatch.monitor.judgement.forecast import (  # noqa: E402
    DRIFT_MIXED,
    INTERVAL_SCALE,
    MIN_POINTS,
    SETTLED_EXPONENT,
    families,
    forecast,
)
from tests.curves import load, names  # noqa: E402

LEVEL = 0.8
# The interval widening the cross-validation chooses from (monitor/judgement/forecast.INTERVAL_SCALE).
SCALES = (0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5)
# The settled family's exponents the cross-validation chooses from (None: the mixture without it).
EXPONENTS: tuple[float | None, ...] = (None, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 20.0)
# The family sets the cross-validation chooses from: the power+drift family's course mixed in or only back-tested,
# and the settled family's exponent.
Mix = tuple[bool, float | None]
MIXES: tuple[Mix, ...] = tuple((drift, e) for drift in (False, True) for e in EXPONENTS)
RATIO_GOAL = 0.8
COVERAGE_GOAL = (0.65, 0.95)


@dataclass(frozen=True)
class Row:
    name: str
    n_half: int
    truth: float
    last: float
    power_law: float
    scale: float
    method: str
    # {(family set, widening): forecast} and {(family set, widening): (low, high)}: the forecast is
    # the median of the widened mixture, so it moves with the widening too.
    points: dict[tuple[Mix, float], float]
    intervals: dict[tuple[Mix, float], tuple[float, float]]

    def err(self, value: float) -> float:
        return abs(value - self.truth) / self.scale

    def covered_at(self, mix: Mix, scale: float) -> bool:
        low, high = self.intervals[mix, scale]
        return low <= self.truth <= high


def power_law(steps: np.ndarray, values: np.ndarray, at: float) -> float:
    """The baseline: a + b t^-c by least squares (t in units of the last step); the last value if it fails."""
    t = steps / steps[-1]

    def f(t: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
        return a + b * np.power(t, -c)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            p, _ = optimize.curve_fit(
                f, t, values, p0=[values.min(), max(values[0] - values[-1], 1e-6), 0.5], maxfev=20000
            )
        except (RuntimeError, ValueError):
            return float(values[-1])
    out = float(f(np.array([at / steps[-1]]), *p)[0])
    return out if np.isfinite(out) else float(values[-1])


@dataclass(frozen=True)
class Seen:
    """A run's eval_loss up to a share of its last eval step (xs, ys), and that last step and value."""

    xs: np.ndarray
    ys: np.ndarray
    end: int
    truth: float

    @property
    def scale(self) -> float:
        """The range the seen part covered: errors are shares of it, so curves of any scale weigh alike."""
        return float(self.ys.max() - self.ys.min()) or 1.0


def seen(name: str, share: float) -> Seen | None:
    """The run's evals up to `share` of its last eval step; None without evals."""
    _, evals = load(name)
    if not evals:
        return None
    steps = np.array([s for s, _ in evals], dtype=np.float64)
    values = np.array([v for _, v in evals], dtype=np.float64)
    part = steps <= steps[-1] * share
    return Seen(steps[part], values[part], int(steps[-1]), float(values[-1]))


def rows() -> tuple[list[Row], list[str]]:
    out, skipped = [], []
    for name in names():
        run = seen(name, 0.5)
        if run is None:
            continue
        if run.xs.size < MIN_POINTS:
            skipped.append(f"{name} ({run.xs.size} in the first half)")
            continue
        xs, ys = run.xs, run.ys
        points: dict[tuple[Mix, float], float] = {}
        intervals: dict[tuple[Mix, float], tuple[float, float]] = {}
        for mix in MIXES:
            for scale in SCALES:
                fams = families(mix[1], drift_mixed=mix[0])
                g = forecast(xs, ys, horizon=run.end, level=LEVEL, interval_scale=scale, mixed=fams)
                assert g is not None
                points[mix, scale] = g.value.expected
                intervals[mix, scale] = (g.value.low, g.value.high)
        fc = forecast(xs, ys, horizon=run.end, level=LEVEL)
        assert fc is not None
        out.append(
            Row(
                name,
                int(xs.size),
                run.truth,
                float(ys[-1]),
                power_law(xs, ys, float(run.end)),
                run.scale,
                fc.method,
                points,
                intervals,
            )
        )
    return out, skipped


def choose_mix(data: list[Row]) -> Mix:
    """The family set (the power+drift family's course mixed in or not; the settled family's exponent, None for
    no such family) whose forecasts on `data` (at the widening chosen on `data` for it) have the lowest mean
    error. Not the median, the goal's statistic: over two dozen runs
    the median is one or two runs' error, and holding out one run moves it to another, so a choice by it
    flips with whichever run is held out."""

    def mean_error(mix: Mix) -> float:
        scale = choose_scale(data, mix)
        return float(np.mean([r.err(r.points[mix, scale]) for r in data]))

    return min(MIXES, key=mean_error)


def choose_scale(data: list[Row], mix: Mix) -> float:
    """The widening whose coverage on `data` is closest to the nominal level (the smaller one on a tie)."""
    return min(SCALES, key=lambda sc: (abs(np.mean([r.covered_at(mix, sc) for r in data]) - LEVEL), sc))


@dataclass(frozen=True)
class HeldOut:
    mix: Mix
    scale: float
    value: float
    low: float
    high: float


def held_out(data: list[Row]) -> list[HeldOut]:
    """Leave-one-out: each run forecast with the family set, then the widening, chosen on all the others."""
    out = []
    for i, r in enumerate(data):
        others = data[:i] + data[i + 1 :]
        mix = choose_mix(others)
        scale = choose_scale(others, mix)
        out.append(HeldOut(mix, scale, r.points[mix, scale], *r.intervals[mix, scale]))
    return out


# Other places to cut the runs at, for the robustness table: the share of each run's last eval step seen.
CUTS = (0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)


@dataclass(frozen=True)
class Cut:
    share: float
    runs: int
    forecast: list[float]
    last: list[float]
    power_law: list[float]
    covered: list[bool]


def at_cuts() -> list[Cut]:
    """The shipped forecast from the first `share` of each run (every run with MIN_POINTS evals there), of the
    value at its last eval: errors as the table's, against the same two baselines."""
    out = []
    for share in CUTS:
        fc_err, last_err, pl_err, covered = [], [], [], []
        for name in names():
            run = seen(name, share)
            if run is None or run.xs.size < MIN_POINTS:
                continue
            fc = forecast(run.xs, run.ys, horizon=run.end, level=LEVEL)
            assert fc is not None
            fc_err.append(abs(fc.value.expected - run.truth) / run.scale)
            last_err.append(abs(float(run.ys[-1]) - run.truth) / run.scale)
            pl_err.append(abs(power_law(run.xs, run.ys, float(run.end)) - run.truth) / run.scale)
            covered.append(fc.value.low <= run.truth <= fc.value.high)
        out.append(Cut(share, len(fc_err), fc_err, last_err, pl_err, covered))
    return out


def cuts_text(cuts: list[Cut]) -> str:
    lines = [
        "Robustness: the same forecast (shipped constants, chosen at the half) from other shares of each run, of "
        "the value at its last eval; errors as above. The goal is judged at the half; the other cuts show how "
        "much of that result is the place the runs were cut at.",
        "",
        "| seen | runs | median error | last value | power law | vs the better baseline | 80% interval holds |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in cuts:
        ours, last, plaw = (float(np.median(e)) for e in (c.forecast, c.last, c.power_law))
        lines.append(
            f"| {c.share:.0%} | {c.runs} | {ours:.3f} | {last:.3f} | {plaw:.3f} | {ours / min(last, plaw):.2f} "
            f"| {float(np.mean(c.covered)):.0%} |"
        )
    pooled = [np.concatenate([getattr(c, k) for c in cuts]) for k in ("forecast", "last", "power_law")]
    ours, last, plaw = (float(np.median(p)) for p in pooled)
    runs = sum(c.runs for c in cuts)
    lines.append(
        f"| all cuts | {runs} | {ours:.3f} | {last:.3f} | {plaw:.3f} | **{ours / min(last, plaw):.2f}** "
        f"| {float(np.mean(np.concatenate([c.covered for c in cuts]))):.0%} |"
    )
    return "\n".join(lines) + "\n"


def _label(exponent: float | None) -> str:
    return "none" if exponent is None else f"{exponent:g}"


def _mix_label(mix: Mix) -> str:
    return f"power+drift {'mixed' if mix[0] else 'back-tested only'}, settled {_label(mix[1])}"


def main() -> None:
    data, skipped = rows()
    held = held_out(data)
    ours = float(np.median([r.err(h.value) for r, h in zip(data, held, strict=True)]))
    ship: Mix = (DRIFT_MIXED, SETTLED_EXPONENT)
    shipped = float(np.median([r.err(r.points[ship, INTERVAL_SCALE]) for r in data]))
    last = float(np.median([r.err(r.last) for r in data]))
    plaw = float(np.median([r.err(r.power_law) for r in data]))
    loo = float(np.mean([h.low <= r.truth <= h.high for r, h in zip(data, held, strict=True)]))
    coverage = float(np.mean([r.covered_at(ship, INTERVAL_SCALE) for r in data]))
    mix_all, scale_all = choose_mix(data), choose_scale(data, ship)
    mixes = Counter(_mix_label(h.mix) for h in held)
    scales = Counter(h.scale for h in held)
    better = min(last, plaw)
    lines = [
        "| curve | points in first half | logged at the end | forecast, held out (80% interval) | error "
        "| last value: error | power law: error | mixture (shipped) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r, h in zip(data, held, strict=True):
        miss = "" if h.low <= r.truth <= h.high else " ✗"
        lines.append(
            f"| {r.name} | {r.n_half} | {r.truth:.4g} | {h.value:.4g} ({h.low:.4g} to {h.high:.4g}){miss} "
            f"| {r.err(h.value):.3f} | {r.err(r.last):.3f} | {r.err(r.power_law):.3f} | {r.method} |"
        )
    body = (
        "## Forecast: the last eval from the first half of the run (`bench/forecast.py`)\n\n"
        f"{len(data)} shared curves with at least {MIN_POINTS} eval_loss points in the first half (skipped: "
        f"{', '.join(skipped) or 'none'}). Error = |forecast - logged| / range of the first half. Every forecast "
        "in the table is held out: leave-one-out, each run forecast with the family set (the power+drift "
        "family's course mixed in or only back-tested; the settled family's exponent "
        f"{', '.join(_label(e) for e in EXPONENTS)}, 'none': without that family) that has the lowest mean "
        "error on the other runs, and its interval widened by the factor whose coverage on the other runs is "
        "closest to 80%.\n\n" + "\n".join(lines) + "\n\n"
        f"| | median error | vs the better baseline (goal <= {RATIO_GOAL}) |\n|---|---|---|\n"
        f"| losswatch forecast, held out | **{ours:.3f}** | **{ours / better:.2f}** |\n"
        f"| losswatch forecast, shipped constants | {shipped:.3f} | {shipped / better:.2f} |\n"
        f"| last value | {last:.3f} | {last / better:.2f} |\n"
        f"| least-squares power law | {plaw:.3f} | {plaw / better:.2f} |\n\n"
        f"Family sets the folds chose: {', '.join(f'{k} x{v}' for k, v in mixes.most_common())}; on all runs: "
        f"{_mix_label(mix_all)} (shipped: {_mix_label(ship)}). Widenings ({', '.join(map(str, SCALES))}) the "
        f"folds chose: {', '.join(f'{k} x{v}' for k, v in sorted(scales.items()))}. Held out, the 80% interval "
        f"holds the logged value in **{loo:.0%}** of runs (goal {COVERAGE_GOAL[0]:.0%}-{COVERAGE_GOAL[1]:.0%}); "
        f"with the shipped constants (widening {INTERVAL_SCALE}; chosen on all runs: {scale_all}) in {coverage:.0%}.\n"
        "\n" + cuts_text(at_cuts())
    )
    write_section("forecast", body)
    print(body)


if __name__ == "__main__":
    main()
