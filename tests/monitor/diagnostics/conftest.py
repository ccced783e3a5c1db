"""Fixtures for the diagnostics tests: the shared real curves as numpy arrays.

The curves live beside the repository (../shared/curves, or LOSSWATCH_CURVES); tests that use the `curve`
fixture skip, saying so, where they are absent (a fresh clone), and run in CI.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from tests.curves import key_series, names, require

Loader = Callable[[str, str], tuple[np.ndarray, np.ndarray]]


def load_curve(prefix: str, key: str) -> tuple[np.ndarray, np.ndarray]:
    """One key of the curve file whose name starts with `prefix` ("10_", "05"...), steps sorted."""
    require()
    (name,) = [n for n in names() if n.startswith(prefix)]
    points = key_series(name, key)
    return (np.array([s for s, _ in points], dtype=np.int64), np.array([v for _, v in points], dtype=np.float64))


@pytest.fixture
def curve() -> Loader:
    return load_curve
