"""Forecast quality on the shared real curves: from the first half of each run, the value at its last step.

For every shared curve whose eval_loss has at least 4 points in the first half of the run (steps up to half
the last eval's step): forecast the eval_loss at the last eval's step from those points alone, and compare
with what the run logged there. Error = |forecast - truth| / the range the first half covered (max - min),
so curves of any scale weigh alike. Baselines: the last value of the first half; a least-squares power law
a + b t^-c (scipy.optimize.curve_fit) through the first half. Coverage: the share of runs whose logged
value lies in the forecast's 80% interval.
    python bench/forecast.py
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import optimize

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import write_section  # noqa: E402
from losswatch.monitor.judgement.forecast import INTERVAL_SCALE, MIN_POINTS, forecast  # noqa: E402
from tests.curves import load, names  # noqa: E402

LEVEL = 0.8
# The interval widening the cross-validation chooses from (monitor/judgement/forecast.INTERVAL_SCALE).
SCALES = (0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5)
RATIO_GOAL = 0.8
COVERAGE_GOAL = (0.65, 0.95)


@dataclass(frozen=True)
class Row:
    name: str
    n_half: int
    truth: float
    ours: float
    low: float
    high: float
    last: float
    power_law: float
    scale: float
    method: str
    intervals: dict[float, tuple[float, float]]

    def err(self, value: float) -> float:
        return abs(value - self.truth) / self.scale

    @property
    def covered(self) -> bool:
        return self.low <= self.truth <= self.high

    def covered_at(self, scale: float) -> bool:
        low, high = self.intervals[scale]
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


def rows() -> tuple[list[Row], list[str]]:
    out, skipped = [], []
    for name in names():
        _, evals = load(name)
        if not evals:
            continue
        steps = np.array([s for s, _ in evals], dtype=np.float64)
        values = np.array([v for _, v in evals], dtype=np.float64)
        half = steps <= steps[-1] / 2
        if half.sum() < MIN_POINTS:
            skipped.append(f"{name} ({int(half.sum())} in the first half)")
            continue
        xs, ys = steps[half], values[half]
        fc = forecast(xs, ys, horizon=int(steps[-1]), level=LEVEL)
        assert fc is not None
        intervals = {}
        for scale in SCALES:
            g = forecast(xs, ys, horizon=int(steps[-1]), level=LEVEL, interval_scale=scale)
            assert g is not None
            intervals[scale] = (g.value.low, g.value.high)
        scale = float(ys.max() - ys.min()) or 1.0
        out.append(
            Row(
                name,
                int(half.sum()),
                float(values[-1]),
                fc.value.expected,
                fc.value.low,
                fc.value.high,
                float(ys[-1]),
                power_law(xs, ys, float(steps[-1])),
                scale,
                fc.method,
                intervals,
            )
        )
    return out, skipped


def choose_scale(data: list[Row]) -> float:
    """The widening whose coverage on `data` is closest to the nominal level (the smaller one on a tie)."""
    return min(SCALES, key=lambda sc: (abs(np.mean([r.covered_at(sc) for r in data]) - LEVEL), sc))


def held_out_coverage(data: list[Row]) -> tuple[float, dict[float, int]]:
    """Leave-one-out: each run's interval widened by the factor chosen on all the others."""
    hits: list[bool] = []
    chosen: dict[float, int] = {}
    for i, r in enumerate(data):
        scale = choose_scale(data[:i] + data[i + 1 :])
        chosen[scale] = chosen.get(scale, 0) + 1
        hits.append(r.covered_at(scale))
    return float(np.mean(hits)), chosen


def main() -> None:
    data, skipped = rows()
    loo, chosen = held_out_coverage(data)
    everything = choose_scale(data)
    ours = float(np.median([r.err(r.ours) for r in data]))
    last = float(np.median([r.err(r.last) for r in data]))
    plaw = float(np.median([r.err(r.power_law) for r in data]))
    coverage = float(np.mean([r.covered for r in data]))
    better = min(last, plaw)
    lines = [
        "| curve | points in first half | logged at the end | forecast (80% interval) | error | last value: error "
        "| power law: error | mixture |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in data:
        miss = "" if r.covered else " ✗"
        lines.append(
            f"| {r.name} | {r.n_half} | {r.truth:.4g} | {r.ours:.4g} ({r.low:.4g} to {r.high:.4g}){miss} "
            f"| {r.err(r.ours):.3f} | {r.err(r.last):.3f} | {r.err(r.power_law):.3f} | {r.method} |"
        )
    body = (
        "## Forecast: the last eval from the first half of the run (`bench/forecast.py`)\n\n"
        f"{len(data)} shared curves with at least {MIN_POINTS} eval_loss points in the first half (skipped: "
        f"{', '.join(skipped) or 'none'}). Error = |forecast - logged| / range of the first half.\n\n"
        + "\n".join(lines)
        + "\n\n"
        f"| | median error | vs the better baseline (goal <= {RATIO_GOAL}) |\n|---|---|---|\n"
        f"| losswatch forecast | **{ours:.3f}** | **{ours / better:.2f}** |\n"
        f"| last value | {last:.3f} | {last / better:.2f} |\n"
        f"| least-squares power law | {plaw:.3f} | {plaw / better:.2f} |\n\n"
        f"The 80% interval's widening ({', '.join(map(str, SCALES))}) is chosen leave-one-out (closest to 80% "
        f"coverage on the other runs; chosen: {', '.join(f'{k} x{v}' for k, v in sorted(chosen.items()))}). "
        f"Held out, the 80% interval holds the logged value in **{loo:.0%}** of runs (goal {COVERAGE_GOAL[0]:.0%}-"
        f"{COVERAGE_GOAL[1]:.0%}); with the shipped widening ({INTERVAL_SCALE}; chosen on all runs: {everything}) "
        f"in {coverage:.0%}.\n"
    )
    write_section("forecast", body)
    print(body)


if __name__ == "__main__":
    main()
