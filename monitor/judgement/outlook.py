"""The forecast of one key of a run, as the REST contract shapes it, with the errors a person can act on."""

from __future__ import annotations

from typing import Any

import numpy as np

from losswatch.monitor.errors import Invalid

from .forecast import MIN_POINTS, Forecast, forecast
from .schedule import Schedule


def default_horizon(schedule: Schedule, last_step: int) -> int:
    """The run's planned last step; without a plan, as far again as the run has come."""
    return schedule.planned_steps if schedule.planned_steps is not None else schedule.horizon(last_step)


def outlook(
    steps: np.ndarray,
    values: np.ndarray,
    *,
    key: str,
    mode: str = "min",
    schedule: Schedule | None = None,
    horizon: int | None = None,
    level: float = 0.8,
) -> dict[str, Any]:
    """`GET /runs/{id}/forecast`'s body for (steps, values); Invalid when there is too little to go on or
    the horizon is not ahead of the last point."""
    v = np.asarray(values, dtype=np.float64)
    s = np.asarray(steps, dtype=np.int64)
    finite = np.isfinite(v)
    n = int(finite.sum())
    if n < MIN_POINTS:
        raise Invalid(f"{key} has {n} finite point(s); a forecast needs at least {MIN_POINTS}")
    last = int(s[finite][-1])
    if horizon is None:
        horizon = default_horizon(schedule or Schedule(), last)
        if horizon <= last:
            raise Invalid(
                f"{key} has reached the run's planned last step ({horizon}); pass a later horizon to forecast past it"
            )
    elif horizon <= last:
        raise Invalid(f"horizon {horizon} is not after the last point of {key} (step {last}); it must be in the future")
    fc = forecast(s[finite], v[finite], horizon=horizon, level=level, sign=-1.0 if mode == "max" else 1.0)
    if fc is None:
        raise Invalid(f"no learning-curve family fits the {n} point(s) of {key}")
    return to_body(fc, key=key, level=level)


def to_body(fc: Forecast, *, key: str, level: float) -> dict[str, Any]:
    return {
        "key": key,
        "n_points": fc.n_points,
        "last_step": fc.last_step,
        "horizon": fc.horizon,
        "level": level,
        "method": fc.method,
        "value": {"expected": fc.value.expected, "low": fc.value.low, "high": fc.value.high},
        "minimum": {
            "expected": fc.minimum.expected,
            "low": fc.minimum.low,
            "high": fc.minimum.high,
            "step": fc.minimum_step,
        },
        "gain": {"expected": fc.gain.expected, "low": fc.gain.low, "high": fc.gain.high},
        "best": fc.best,
        "noise": fc.sigma,
        "weights": fc.weights,
    }
