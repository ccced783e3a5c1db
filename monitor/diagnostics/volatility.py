"""How noisy a curve is: its scatter around the smoothed line and its point-to-point noise."""

from __future__ import annotations

from typing import Any

import numpy as np

from losswatch.monitor.vocabulary import DEFAULT_SMOOTHING

from .robust import NOISE_MAX_POINTS, mad_sigma, noise_sigma

# TensorBoard's default smoothing, the curve people compare the raw one against.
EMA_WEIGHT = DEFAULT_SMOOTHING

# Cut-offs on the noise's coefficient of variation (noise std / typical value). Below 1% the raw
# line looks like a thin line and one reading gives the level; between 1% and 10% the raw curve is
# a visible band (typical minibatch noise of LM fine-tuning) and one reads the smoothed curve; from
# 10% on readings routinely miss the level by a tenth or more, and single points mean nothing.
CV_MODERATE = 0.01
CV_HIGH = 0.10


def level_of(cv: float | None, noise: float) -> str:
    if cv is None:
        # Noise around a level of exactly 0: any scatter is infinitely large relative to it.
        return "high" if noise > 0 else "low"
    if cv >= CV_HIGH:
        return "high"
    return "moderate" if cv >= CV_MODERATE else "low"


def volatility(values: np.ndarray, smoothed: np.ndarray) -> dict[str, Any]:
    """Noise of one window of finite values (original units) and its smoothed counterpart.

    `residual_std` is the robust scatter of the raw curve around the EMA, what one sees on the
    plot; it also holds the EMA's lag on steep parts. `noise_std` is the trend-free point noise
    (second differences), and `cv` and `level` use it so that a smooth steep curve reads as quiet.
    """
    values = values[-NOISE_MAX_POINTS:]
    smoothed = smoothed[-NOISE_MAX_POINTS:]
    residual = mad_sigma(values - smoothed) if values.size else 0.0
    noise = noise_sigma(values)
    typical = float(np.median(values)) if values.size else 0.0
    # Scatter below 1e-12 of the level is float rounding of a constant, not noise.
    if noise <= 1e-12 * max(abs(typical), 1e-300):
        noise = 0.0
    if residual <= 1e-12 * max(abs(typical), 1e-300):
        residual = 0.0
    if typical != 0.0:
        cv: float | None = noise / abs(typical)
        cv_residual: float | None = residual / abs(typical)
    else:
        cv = 0.0 if noise == 0.0 else None
        cv_residual = 0.0 if residual == 0.0 else None
    return {
        "ema_weight": EMA_WEIGHT,
        "n_points": int(values.size),
        "typical_value": typical,
        "residual_std": residual,
        "cv_residual": cv_residual,
        "noise_std": noise,
        "cv": cv,
        "level": level_of(cv, noise),
        "cv_cutoffs": [CV_MODERATE, CV_HIGH],
    }
