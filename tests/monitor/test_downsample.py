from __future__ import annotations

import math

import numpy as np
import pytest

from losswatch.monitor.downsample import minmax_indices

rng = np.random.default_rng(3)


@pytest.mark.parametrize(
    "n,max_points", [(10, 1000), (1000, 1000), (1001, 1000), (100_000, 1000), (100_000, 50), (10, 4), (10, 2), (10, 3)]
)
def test_minmax_indices_bounded_and_keeps_ends(n: int, max_points: int) -> None:
    values = rng.normal(size=n)
    idx = minmax_indices(values, max_points)
    assert len(idx) <= max(max_points, 2) and len(idx) <= n
    assert idx[0] == 0 and idx[-1] == n - 1
    assert np.all(np.diff(idx) > 0)


def test_minmax_indices_keeps_spike_and_dip() -> None:
    values = rng.normal(size=200_000)
    values[123_457] = 50.0
    values[77_001] = -50.0
    idx = minmax_indices(values, 100)
    assert 123_457 in idx and 77_001 in idx


def test_minmax_indices_keeps_nan_blow_up() -> None:
    values = np.linspace(2, 1, 10_000)
    values[5_000] = math.nan
    assert 5_000 in minmax_indices(values, 40)
