"""The reading noise the default rule and the forecast lean on (monitor/judgement/noise.py)."""

from __future__ import annotations

import numpy as np
import pytest

from losswatch.monitor.judgement.noise import reading_sigma, spread_sigma, upper_reading_sigma

RNG = np.random.default_rng(11)
STEPS = np.arange(1, 401, dtype=np.float64)
WHITE = 0.01 * RNG.standard_normal(STEPS.size)

SHAPES = [
    # id, readings, noise they carry
    ("flat", 1.0 + WHITE, 0.01),
    ("steady-fall", 2.0 - 0.002 * STEPS + WHITE, 0.01),
    ("u-turn", 1.0 + ((STEPS - 150) / 100) ** 2 + WHITE, 0.01),
    ("power-law-fall", 0.5 + 2.0 * (STEPS + 20) ** -0.5 + WHITE, 0.01),
]


@pytest.mark.parametrize(("values", "sigma"), [c[1:] for c in SHAPES], ids=[c[0] for c in SHAPES])
def test_reading_sigma_reads_the_noise_not_the_shape(values: np.ndarray, sigma: float) -> None:
    # First differences read the U's bend as noise: 0.0216 here, for a noise of 0.01.
    assert reading_sigma(values) == pytest.approx(sigma, rel=0.15)
    assert spread_sigma(values) == pytest.approx(sigma, rel=0.15)


def test_reading_sigma_leaves_a_steep_start_out() -> None:
    # A power law from its first step bends hard over the first few readings; the median keeps them out.
    values = 0.5 + 2.0 * STEPS**-0.5 + WHITE
    assert reading_sigma(values) == pytest.approx(0.01, rel=0.2)


@pytest.mark.parametrize(
    "values",
    [
        pytest.param([1.0 + ((s - 600) / 1000) ** 2 for s in range(100, 2001, 100)], id="noise-free-u"),
        pytest.param([3.0 - 0.1 * k for k in range(12)], id="noise-free-line"),
    ],
)
def test_reading_sigma_of_a_smooth_curve_is_nil(values: list[float]) -> None:
    assert reading_sigma(np.array(values)) == pytest.approx(0.0, abs=1e-12)


def test_spread_sigma_counts_a_jump_the_robust_scale_does_not() -> None:
    levels = np.array([1.0] * 10 + [1.3] * 10)
    assert reading_sigma(levels) == 0.0
    # One jump of 0.3 among 20 readings: second differences of +0.3 and -0.3, a spread of 0.042.
    assert spread_sigma(levels) == pytest.approx(0.3 * np.sqrt(2 / 17) / np.sqrt(6))


@pytest.mark.parametrize(
    ("values", "sigma"),
    [
        pytest.param([1.0, 0.8], None, id="two-readings"),
        pytest.param([1.0, np.nan, 0.8], None, id="two-finite"),
        # Three readings give one second difference and no spread of it: their two first differences, then.
        pytest.param([1.0, 1.2, 1.0], 1.4826 * 0.2 / np.sqrt(2), id="three-readings"),
    ],
)
def test_reading_sigma_needs_three_finite_readings(values: list[float], sigma: float | None) -> None:
    got = reading_sigma(np.array(values))
    assert got == (None if sigma is None else pytest.approx(sigma))


def test_first_differences_count_the_bend_the_forecast_spread_is_built_from() -> None:
    # The forecast's spread keeps the bend in (a turn its families miss); the rule's reading noise leaves it out.
    u = 1.0 + ((STEPS - 150) / 100) ** 2 + WHITE
    first, second = reading_sigma(u, order=1), reading_sigma(u)
    assert first is not None and second is not None and first > 1.1 * second


@pytest.mark.parametrize(
    "values",
    [
        pytest.param([0.47, 1.15, 1.22, 0.72], id="arch"),
        pytest.param([1.0, 0.4, 0.35, 0.9], id="u"),
    ],
)
def test_upper_reading_sigma_of_four_readings_counts_their_bend(values: list[float]) -> None:
    # Two second differences centred on their median: a bend through four readings leaves them nearly equal and
    # the scale near 0, though the readings jump by half their level. The first differences' scale is the floor.
    y = np.array(values)
    assert upper_reading_sigma(y) >= upper_reading_sigma(y, order=1) > 0.2


def test_upper_reading_sigma_of_five_readings_still_leaves_a_bend_out() -> None:
    # From five readings on, the second differences have spread enough to tell a bend from noise.
    y = np.array([1.0 + ((s - 300) / 200) ** 2 for s in range(100, 600, 100)])
    assert upper_reading_sigma(y) == pytest.approx(0.0, abs=1e-12)
    assert upper_reading_sigma(y, order=1) > 0.1
