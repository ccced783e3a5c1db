"""The stop-quality bench's hindsight columns: what each counts as a stop, on loss sequences."""

from __future__ import annotations

import pytest

from bench.stop_quality import (
    NOISE_SEEDS,
    REGRET_GOAL,
    Curve,
    best_patience_in_hindsight,
    delayed_hindsight,
    hindsight_stop,
    variants,
)

Evals = list[tuple[int, float]]


def steps(values: list[float], every: int = 100) -> Evals:
    return [(i * every, v) for i, v in enumerate(values, start=1)]


@pytest.mark.parametrize(
    ("values", "stop", "saved"),
    [
        # Best at the first evaluation and never approached again: patience 1 stops at the second.
        pytest.param([1.0, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0], 200, 0.8, id="overfit-from-first"),
        # A bump of three evaluations, then a 20% better best at the end: every patience up to 3 fires in the
        # bump (20% regret); patience 4 and more never fire, so no stop is the only choice within 1%.
        pytest.param([1.0, 1.1, 1.2, 1.1, 0.8], None, 0.0, id="bump-then-best-last"),
        # A new best at the 4th evaluation within 0.5% of the 2nd: stopping in the dip keeps regret under 1%.
        pytest.param([1.0, 0.9, 0.95, 0.896, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5], 300, 0.7, id="near-best-counts"),
    ],
)
def test_best_patience_in_hindsight_on_sequences(tmp_path, values: list[float], stop: int | None, saved: float) -> None:
    evals = steps(values)
    got = best_patience_in_hindsight(evals, evals[-1][0], str(tmp_path))
    assert got.stop == stop
    assert got.saved == pytest.approx(saved)
    assert got.regret <= REGRET_GOAL


def test_hindsight_stop_is_the_first_evaluation_within_the_goal() -> None:
    assert hindsight_stop(steps([2.0, 1.0, 1.005, 0.999])) == 200
    assert hindsight_stop(steps([2.0, 1.5, 1.0])) == 300


@pytest.mark.parametrize(
    ("values", "delay", "stop"),
    [
        pytest.param([1.0, 1.2, 1.3, 1.4, 1.5], 0, 100, id="at-hindsight"),
        pytest.param([1.0, 1.2, 1.3, 1.4, 1.5], 2, 300, id="two-later"),
        # A best at the last evaluation leaves no later one: no stop, nothing saved.
        pytest.param([1.5, 1.4, 1.3, 1.2, 1.0], 1, None, id="past-the-end"),
    ],
)
def test_delayed_hindsight_stops_that_many_evaluations_later(values: list[float], delay: int, stop: int | None) -> None:
    evals = steps(values)
    got = delayed_hindsight(evals, evals[-1][0], delay)
    assert got.stop == stop
    assert got.saved == pytest.approx(0.0 if stop is None else 1 - stop / evals[-1][0])


def test_variants_thin_the_evaluations_and_scale_the_interval() -> None:
    values = [1.0 - 0.05 * k + 0.01 * (-1) ** k for k in range(10)]
    curve = Curve("x.json", steps(values), 1000, {"eval_steps": 100, "max_steps": 1000})
    made = variants(curve)
    # Ten evaluations: every 2nd leaves 5 (either offset), every 3rd only 4, fewer than a run needs to be judged.
    assert [v for v in made if not v.startswith("noise")] == ["every 2nd", "every 2nd, offset 1"]
    assert made["every 2nd, offset 1"] == (curve.evals[1::2], {"eval_steps": 200, "max_steps": 1000})
    noisy = [made[f"noise, seed {s}"][0] for s in NOISE_SEEDS]
    assert all([s for s, _ in n] == [s for s, _ in curve.evals] for n in noisy)
    assert all(n != curve.evals for n in noisy) and noisy[0] != noisy[1]
    # Fixed seeds: a second call makes the same runs.
    assert variants(curve) == made
