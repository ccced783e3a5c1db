from __future__ import annotations

import time

import numpy as np
import pytest

from losswatch.monitor.diagnostics.trend import TREND_MAX_POINTS, window_trend


def test_linear_decrease_gives_exact_slope_per_1k_steps() -> None:
    steps = np.arange(0, 5000, 50, dtype=np.int64)
    values = 3.0 - 0.002 * steps
    t = window_trend(steps, values)
    assert t["slope_per_1k_steps"] == pytest.approx(-2.0)
    low, high = t["slope_ci_per_1k_steps"]
    assert low <= -2.0 <= high < 0
    assert t["p_value"] < 1e-6 and t["significant"] and t["direction"] == "decreasing"
    assert t["change"] == pytest.approx(-0.002 * 4950)
    # Relative to the fitted value at the window's start (3.0), not to the median.
    assert t["relative_change"] == pytest.approx(-0.002 * 4950 / 3.0)
    assert (t["start_step"], t["end_step"], t["n_points"]) == (0, 4950, 100)


def test_constant_window_is_flat_with_p_one() -> None:
    t = window_trend(np.arange(20, dtype=np.int64), np.full(20, 0.0))
    assert t["slope_per_1k_steps"] == 0.0 and t["p_value"] == 1.0
    assert not t["significant"] and t["direction"] == "flat"
    assert t["relative_change"] is None  # level 0: no relative change


def test_pure_noise_is_not_significant() -> None:
    rng = np.random.default_rng(0)
    t = window_trend(np.arange(200, dtype=np.int64) * 10, 2.0 + rng.normal(0, 0.1, 200))
    assert not t["significant"]
    low, high = t["slope_ci_per_1k_steps"]
    assert low < 0 < high


def test_outliers_do_not_tilt_theil_sen() -> None:
    rng = np.random.default_rng(1)
    steps = np.arange(100, dtype=np.int64) * 10
    values = 2.0 - 0.001 * steps
    values[rng.choice(100, 15, replace=False)] += 50.0
    assert window_trend(steps, values)["slope_per_1k_steps"] == pytest.approx(-1.0, rel=0.05)


def test_too_short_window_reports_nothing() -> None:
    t = window_trend(np.array([1, 2], dtype=np.int64), np.array([1.0, 0.5]))
    assert t["slope_per_1k_steps"] is None and t["p_value"] is None and not t["significant"]


def test_long_window_is_thinned_and_fast() -> None:
    rng = np.random.default_rng(2)
    steps = np.arange(200_000, dtype=np.int64)
    values = 5.0 - 1e-5 * steps + rng.normal(0, 0.05, steps.size)
    start = time.process_time()
    t = window_trend(steps, values)
    assert time.process_time() - start < 0.5
    assert t["slope_per_1k_steps"] == pytest.approx(-0.01, rel=0.05)
    assert t["n_points"] == steps.size > TREND_MAX_POINTS


@pytest.mark.parametrize(
    ("values", "low", "high"),
    [
        # A straight fall: the fitted line is the readings, 2.0 -> 1.0.
        pytest.param(np.linspace(2.0, 1.0, 6), -0.5, -0.5, id="straight-fall-50pct"),
        # A steep convex fall (15.4 -> 0.3, like a first epoch of a model with a huge initial loss): a straight
        # line through it starts and ends beyond the readings; a positive loss cannot lose more than all of it.
        pytest.param(np.array([15.4, 4.0, 1.2, 0.6, 0.4, 0.3]), -1.0, -0.9, id="convex-fall-within-100pct"),
        pytest.param(np.array([0.3, 0.4, 0.6, 1.2, 4.0, 15.4]), 1.0, 60.0, id="convex-rise"),
    ],
)
def test_relative_change_stays_within_what_the_readings_moved(values: np.ndarray, low: float, high: float) -> None:
    out = window_trend(np.arange(1, values.size + 1, dtype=np.int64) * 100, values)
    assert low - 1e-12 <= out["relative_change"] <= high + 1e-12, out
