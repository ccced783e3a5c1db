"""`diagnose`: every diagnostic of one metric series, as one JSON-ready dict.

Cost: O(n) passes over the whole series (sorting check, finiteness, EMA in C); everything
super-linear runs on bounded samples - Theil-Sen on <= 1000 evenly thinned points per window,
spikes on the last 4096 points, noise on the last 4096 points of the recent window, levels on
<= 4096 thinned points - so a 1M-point series takes well under a second.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from losswatch.monitor.errors import Invalid
from losswatch.monitor.judgement import rule as stop_rule
from losswatch.monitor.judgement.forecast import MIN_POINTS as MIN_FORECAST_POINTS
from losswatch.monitor.judgement.outlook import outlook
from losswatch.monitor.judgement.schedule import Schedule
from losswatch.monitor.smoothing import tensorboard_ema
from losswatch.monitor.vocabulary import is_eval_key, spell

from .advice import advise
from .overfitting import overfitting
from .series import Series, is_schedule_key, prepare
from .spikes import find_spikes
from .state import RISEN_CLAUSES, classify
from .summary import LANGS, summarize
from .trend import window_trend
from .volatility import EMA_WEIGHT, volatility


def jsonable(obj: Any) -> Any:
    """Plain Python types only, NaN/Inf as None, so json.dumps(..., allow_nan=False) works."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    return obj


def _series_facts(series: Series, smoothed: np.ndarray, key: str, mode: str, spike_steps: set[int]) -> dict[str, Any]:
    values = series.values[series.finite]
    steps = series.fsteps
    last_raw = float(series.values[-1]) if series.values.size else None
    facts: dict[str, Any] = {
        "mode": mode,
        "role": "eval" if is_eval_key(key) else "train",
        "schedule": is_schedule_key(key),
        "n_points": int(series.values.size),
        "n_finite": series.n,
        "n_non_finite": int(series.values.size - series.n),
        "first_step": int(series.steps[0]) if series.steps.size else None,
        "last_step": int(series.steps[-1]) if series.steps.size else None,
        "first_value": float(values[0]) if values.size else None,
        "last_value": last_raw,
        "latest_non_finite": (spell(last_raw) if last_raw is not None and not math.isfinite(last_raw) else None),
        "last_smoothed": float(smoothed[-1]) if smoothed.size else None,
        "end_level": None,
        "best_value": None,
        "best_step": None,
    }
    if values.size:
        # Float residue of the EMA's geometric decay (1e-24 after a drop to exactly 0) is not what
        # anyone reads off the chart: below 1e-9 of the series' magnitude it is the last value.
        scale = float(np.abs(values).max())
        if abs(facts["last_smoothed"] - float(values[-1])) <= 1e-9 * scale:
            facts["last_smoothed"] = float(values[-1])
        # What the summary calls "now": the smoothed value, unless the latest reading is a spike,
        # which drags a 0.6 EMA 40% of the way up - then the smoothed value just before it.
        facts["end_level"] = facts["last_smoothed"]
        if spike_steps and steps[-1] in spike_steps and smoothed.size > 1:
            facts["end_level"] = float(smoothed[-2])
        b = int(np.argmin(series.x))
        facts.update(best_value=float(values[b]), best_step=int(steps[b]))
    return facts


def _overfitting(
    series: Series,
    key: str,
    mode: str,
    companion: tuple[object, object] | None,
    recent: dict[str, Any],
    config: Mapping[str, Any] | None,
) -> tuple[dict[str, Any] | None, bool]:
    """The validation/training read, and whether the run has a validation series at all.

    For a validation key the companion is the training loss; for any other key the companion is
    the validation series of the same metric (so it shares `mode`) and the key is the training one.
    """
    key_is_eval = is_eval_key(key)
    other = None if companion is None else prepare(companion[0], companion[1], "min" if key_is_eval else mode)
    if other is None or (key_is_eval and other.n < 2):
        # No training loss, or one point of it, which says nothing of its course: the validation key on its own
        # (the stopping rule's verdict included).
        if not key_is_eval or series.n < 2:
            return None, key_is_eval
        empty = np.empty(0)
        slope = recent["slope_per_1k_steps"]
        result = overfitting(
            series.fsteps,
            series.x,
            series.sign,
            empty.astype(np.int64),
            empty,
            series.sign * slope if slope else None,
            _falls(recent, series.sign),
        )
        result["validation"] = "key"
        return _with_stop_rule(result, series, config), True
    if key_is_eval:
        ev, tr = series, other
        ev_recent = recent
    else:
        ev, tr = other, series
        ev_n = ev.recent_size()
        ev_recent = window_trend(ev.fsteps[-ev_n:], ev.values[ev.finite][-ev_n:])
    ev_slope = ev_recent["slope_per_1k_steps"]
    has_eval = ev.n > 0
    if ev.n < 2 or tr.n < 2:
        return None, has_eval
    oriented_slope = ev.sign * ev_slope if ev_slope is not None else None
    result = overfitting(
        ev.fsteps, ev.x, ev.sign, tr.fsteps, tr.values[tr.finite], oriented_slope, _falls(ev_recent, ev.sign)
    )
    result["validation"] = "key" if key_is_eval else "companion"
    return _with_stop_rule(result, ev, config), has_eval


def _with_stop_rule(result: dict[str, Any], ev: Series, config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The overfitting read, agreeing with the default stopping rule: where that rule would stop the validation
    curve now for having risen from its best, the curve is rising, and overfitting unless the training loss
    rose with it (then it is training going wrong, which the state calls diverging). The two read the same
    rise with different yardsticks (the rule: one noise sigma and the readings still to come; the detector
    here: three sigmas and Prechelt's GL), and a run stopped as overfitting was read as "unstable", with
    advice to lower the learning rate, or as "plateaued" beside the stop."""
    result.update(
        stop_rule=None, stop_rule_horizon=None, stop_rule_gain=None, stop_rule_course_end=None, stop_rule_planned=None
    )
    if ev.n < stop_rule.MIN_READINGS:
        return result
    steps = ev.fsteps
    with np.errstate(all="ignore"):  # readings near the float limits: the rule then simply does not stop
        decision = stop_rule.verdict(
            steps,
            ev.values[ev.finite],
            monitor="eval_loss",  # the words of its message only, which are not read here
            mode="max" if ev.sign < 0 else "min",
            schedule=Schedule.from_config(config),
        )
    facts = decision.facts or {}
    clause = facts.get("clause") if decision.should_stop else None
    result["stop_rule"] = clause
    # Watching a curve whose forecast course stays worse than its best: where that course ends.
    worse = not decision.should_stop and facts.get("outlook") == "course_worse"
    result["stop_rule_course_end"] = facts["end"] if worse else None
    # The run's plan when the rule reads past it: no evaluation is left before it.
    result["stop_rule_planned"] = facts.get("planned")
    if clause == "levelling":
        # What levelling off means here, in the rule's numbers: the most the forecast allows continuing to win.
        result.update(stop_rule_horizon=facts["horizon"], stop_rule_gain=facts["gain"]["high"])
    if clause in RISEN_CLAUSES:
        result["validation_rising"] = True
        # Known training loss not rising: an overfit. Unknown: the state decides (a level jump is divergence).
        result["detected"] = bool(result["detected"]) or (
            result["train_now"] is not None and not result["train_rising"]
        )
    return result


def _falls(recent: dict[str, Any], sign: float) -> bool:
    """Whether a window's trend test found it significantly better (oriented: lower is better)."""
    slope = recent["slope_per_1k_steps"]
    return bool(recent["significant"]) and slope is not None and sign * slope < 0


# The interval the diagnosis states, the same as the forecast endpoint's default.
FORECAST_LEVEL = 0.8


def _outlook(
    series: Series, key: str, mode: str, config: Mapping[str, Any] | None, level: float
) -> dict[str, Any] | None:
    """The forecast to the run's planned end (as far again as it has come, without a plan); None when the
    run is past its plan or there is too little to fit."""
    if series.n < MIN_FORECAST_POINTS:
        return None
    try:
        return outlook(
            series.fsteps,
            series.values[series.finite],
            key=key,
            mode=mode,
            schedule=Schedule.from_config(config),
            level=level,
        )
    except Invalid:
        return None


def diagnose(
    steps: object,
    values: object,
    *,
    key: str,
    mode: str = "min",
    companion: tuple[object, object] | None = None,
    config: Mapping[str, Any] | None = None,
    lang: str = "en",
    monitor: str | None = None,
    ended: bool = False,
) -> dict[str, Any]:
    """Diagnose one metric series.

    `steps` (int64) and `values` (float64, NaN/Inf allowed) are the series, in any order; a step
    logged twice keeps its last value. `mode` is "min" for losses, "max" for accuracy-like metrics.
    `companion` is an optional (steps, values) pair: the training loss for a validation key, the
    validation series for a training key. `config` is the run's TrainingArguments as a dict;
    `monitor` the key its early stopping watches (for the advice). `ended`: the run is over, so the reading
    looks back (which checkpoint to keep) instead of advising on a training that no longer runs, and
    forecasts nothing.
    Returns {"key", "state", "trend", "volatility", "spikes", "overfitting", "advice", "forecast", "summary"},
    JSON-ready (plain types, no NaN/Inf).
    """
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, not {lang!r}")
    series = prepare(steps, values, mode)
    steps_f = series.fsteps
    values_f = series.values[series.finite]
    window = series.recent_size()
    smoothed = tensorboard_ema(values_f, EMA_WEIGHT)

    overall = window_trend(steps_f, values_f)
    recent = window_trend(steps_f[-window:], values_f[-window:])
    vol = volatility(values_f[-window:], smoothed[-window:])
    spikes = find_spikes(steps_f, series.x, series.sign)
    overfit, has_eval = _overfitting(series, key, mode, companion, recent, config)
    reading = classify(series, key=key, recent=recent, vol=vol, spikes=spikes, overfit=overfit)
    if reading.state == "overfitting" and overfit is not None:
        overfit["detected"] = True  # the page's "overfit: yes/no" says what the state says
    outlook = None if is_schedule_key(key) or ended else _outlook(series, key, mode, config, level=FORECAST_LEVEL)

    trend = _series_facts(series, smoothed, key, mode, {p["step"] for p in spikes["items"]})
    trend.update(reading.as_dict(series.sign))
    trend.update(overall=overall, recent=recent)
    result = jsonable(
        {
            "key": key,
            "state": reading.state,
            "trend": trend,
            "volatility": vol,
            "spikes": spikes,
            "overfitting": overfit,
            "advice": advise(config, key=key, has_eval=has_eval, n_points=series.n, lang=lang, monitor=monitor),
            "forecast": outlook,
        }
    )
    result["summary"] = summarize(result, lang, ended=ended)
    return result
