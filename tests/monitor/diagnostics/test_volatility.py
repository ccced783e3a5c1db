from __future__ import annotations

import numpy as np
import pytest

from losswatch.monitor.diagnostics.volatility import CV_HIGH, CV_MODERATE, EMA_WEIGHT, volatility
from losswatch.monitor.smoothing import tensorboard_ema


def _reference_ema(x: np.ndarray, w: float = 0.6) -> np.ndarray:
    """DESIGN.md's definition, written as a plain loop."""
    out, m = [], 0.0
    for k, value in enumerate(x, start=1):
        m = w * m + (1 - w) * value
        out.append(m / (1 - w**k))
    return np.array(out)


def test_ema_matches_the_tensorboard_definition() -> None:
    x = np.random.default_rng(0).normal(2.0, 0.3, 500)
    smoothed = tensorboard_ema(x, EMA_WEIGHT)
    assert smoothed[0] == x[0]
    np.testing.assert_allclose(smoothed, _reference_ema(x), rtol=1e-12)


def test_ema_returns_a_constant_series_unchanged() -> None:
    x = np.full(10, 0.1)
    assert np.array_equal(tensorboard_ema(x, EMA_WEIGHT), x)


def test_noise_is_read_without_the_trend() -> None:
    # A steep trend with sigma-0.02 noise: the EMA residual carries lag, the noise estimate does not.
    rng = np.random.default_rng(1)
    x = np.linspace(3.0, 1.0, 400) ** 2 + rng.normal(0, 0.02, 400)
    v = volatility(x, tensorboard_ema(x, EMA_WEIGHT))
    assert v["noise_std"] == pytest.approx(0.02, rel=0.15)
    assert v["ema_weight"] == 0.6 and v["cv_cutoffs"] == [CV_MODERATE, CV_HIGH]


@pytest.mark.parametrize(
    ("sigma", "level"),
    [
        pytest.param(0.005, "low", id="half_percent_noise_is_low"),
        pytest.param(0.05, "moderate", id="five_percent_noise_is_moderate"),
        pytest.param(0.3, "high", id="thirty_percent_noise_is_high"),
    ],
)
def test_level_from_coefficient_of_variation(sigma: float, level: str) -> None:
    x = 1.0 + np.random.default_rng(2).normal(0, sigma, 300)
    v = volatility(x, tensorboard_ema(x, EMA_WEIGHT))
    assert v["level"] == level
    assert v["cv"] == pytest.approx(sigma, rel=0.2)


def test_constant_zero_is_quiet_and_noise_around_zero_is_high() -> None:
    zeros = np.zeros(50)
    v = volatility(zeros, tensorboard_ema(zeros, EMA_WEIGHT))
    assert (v["cv"], v["level"], v["noise_std"]) == (0.0, "low", 0.0)
    around_zero = np.random.default_rng(3).normal(0, 0.1, 51)
    around_zero -= np.median(around_zero)
    v = volatility(around_zero, tensorboard_ema(around_zero, EMA_WEIGHT))
    assert v["cv"] is None and v["level"] == "high"
