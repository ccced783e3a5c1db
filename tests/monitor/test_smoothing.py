from __future__ import annotations

import math

import numpy as np
import pytest

from losswatch.monitor.smoothing import llamafactory_ema, smooth, tensorboard_ema


def tb_reference(xs: list[float], w: float) -> list[float]:
    """TensorBoard's chart, written out the slow way from its definition."""
    if not xs or all(x == xs[0] for x in xs):
        return list(xs)
    last, k, out = 0.0, 0, []
    for x in xs:
        if not math.isfinite(x):
            out.append(x)
            continue
        k += 1
        last = last * w + (1 - w) * x
        out.append(last / (1 - w**k))
    return out


def lf_reference(xs: list[float]) -> list[float]:
    w = 1.8 * (1 / (1 + math.exp(-0.05 * len(xs))) - 0.5)
    last, out = xs[0], []
    for x in xs:
        last = last * w + (1 - w) * x
        out.append(last)
    return out


rng = np.random.default_rng(7)
SERIES = {
    "single-point": [2.5],
    "constant": [0.0] * 50,
    "two-points": [3.0, 1.0],
    "nan-inside": [2.0, 1.8, math.nan, 1.6, 1.5],
    "inf-inside": [2.0, math.inf, 1.9, -math.inf, 1.7],
    "leading-nan": [math.nan, 1.0, 0.9, 0.8],
    "long-noisy-decay": list(2.0 * np.exp(-np.arange(5000) / 900) + rng.normal(0, 0.05, 5000)),
    "negative-values": [-1.0, -2.0, -1.5, -3.0],
}


def same(a: np.ndarray, b: list[float]) -> bool:
    b_arr = np.asarray(b, dtype=float)
    both_nan = np.isnan(a) & np.isnan(b_arr)
    close = np.isclose(a, b_arr, rtol=1e-12, atol=0) | (a == b_arr)
    return bool(np.all(both_nan | close))


@pytest.mark.parametrize("weight", [0.0, 0.6, 0.9, 0.99])
@pytest.mark.parametrize("name", list(SERIES))
def test_tensorboard_ema_matches_definition(name: str, weight: float) -> None:
    xs = SERIES[name]
    got = tensorboard_ema(np.array(xs), weight)
    assert same(got, tb_reference(xs, weight) if weight else xs)


@pytest.mark.parametrize("name", [n for n in SERIES if "nan" not in n and "inf" not in n])
def test_llamafactory_ema_matches_definition(name: str) -> None:
    xs = SERIES[name]
    assert same(llamafactory_ema(np.array(xs)), lf_reference(xs))


def test_tensorboard_first_finite_point_comes_out_unchanged() -> None:
    out = tensorboard_ema(np.array([math.nan, 4.0, 2.0]), 0.9)
    assert math.isnan(out[0]) and out[1] == 4.0


def test_smooth_none_returns_a_copy() -> None:
    x = np.array([1.0, 2.0])
    out = smooth(x, mode="none")
    assert out.tolist() == [1.0, 2.0] and out is not x


def test_smooth_empty_series() -> None:
    for mode in ("tensorboard", "llamafactory", "none"):
        assert smooth(np.array([]), mode=mode).size == 0
