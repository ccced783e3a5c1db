"""Smoothing exactly as TensorBoard's scalar chart and LLaMA-Factory's loss plot draw it."""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import lfilter

from losswatch.monitor.vocabulary import SmoothingMode, spell


def tensorboard_ema(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's debiased EMA: m_k = w*m_{k-1} + (1-w)*x_k, out_k = m_k / (1 - w^k).

    k counts finite points only; non-finite points pass through without entering the average, and a
    constant series comes back unchanged (TensorBoard special-cases it to avoid debias rounding).
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0 or weight <= 0 or np.all(x == x[0]):
        return x.copy()
    out = x.copy()
    finite = np.isfinite(x)
    xf = x[finite]
    if xf.size:
        m = lfilter([1.0 - weight], [1.0, -weight], xf)
        k = np.arange(1, xf.size + 1, dtype=np.float64)
        out[finite] = m / (1.0 - np.power(weight, k))
    return out


def llamafactory_ema(values: np.ndarray) -> np.ndarray:
    """LLaMA-Factory's plot: a weight that grows with the series length, y0 = x0, no debias."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return x.copy()
    w = 1.8 * (1.0 / (1.0 + math.exp(-0.05 * x.size)) - 0.5)
    y, _ = lfilter([1.0 - w], [1.0, -w], x, zi=[w * x[0]])
    return y


def smooth(values: np.ndarray, *, mode: SmoothingMode = "tensorboard", weight: float = 0.6) -> np.ndarray:
    if mode == "tensorboard":
        return tensorboard_ema(values, weight)
    if mode == "llamafactory":
        return llamafactory_ema(values)
    return np.asarray(values, dtype=np.float64).copy()


def finite_str(value: float) -> str:
    """A number for a message: 4 significant digits, non-finite spelled as JSON spells it."""
    if not math.isfinite(value):
        return str(spell(value))
    return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"
