"""One function per way of judging a check: pure over (policy, state, step, value). Each updates the
state it is given and returns the decision; choosing which one applies is `stopping.Stopper`'s job.

The compat rules repeat their library's arithmetic operation for operation, so that float rounding
at a near-tie falls the same way as in the original.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from losswatch.monitor.policy import Decision, Policy, Reason
from losswatch.monitor.smoothing import finite_str
from losswatch.monitor.stop_state import StopState


def hf_check(p: Policy, st: StopState, step: int, value: float) -> Decision:
    """transformers' EarlyStoppingCallback, then the Trainer's own best-metric update.

    The callback compares against `state.best_metric` *before* the Trainer raises it, and the Trainer
    raises it on any strict improvement, even one the threshold did not count.
    """
    better = (lambda a, b: a > b) if p.mode == "max" else (lambda a, b: a < b)
    if st.hf_best is None or (better(value, st.hf_best) and abs(value - st.hf_best) > p.min_delta):
        st.wait = 0
    else:
        st.wait += 1
    if st.hf_best is None:
        st.hf_best = -math.inf if p.mode == "max" else math.inf
    if better(value, st.hf_best):
        st.hf_best = value
        st.best, st.best_raw, st.best_step = value, value, step
    if st.wait >= p.patience:
        msg = (
            f"{p.monitor} did not improve by more than {_fmt(p.min_delta)} for {st.wait} evaluations; "
            f"best {_fmt(st.best_raw)} at step {st.best_step}"
        )
        return _decision(p, st, Reason.PATIENCE_EXHAUSTED, msg, step, stop=True)
    return _running(p, st, step, value)


def lightning_check(p: Policy, st: StopState, step: int, value: float) -> Decision:
    """Lightning's EarlyStopping._evaluate_stopping_criteria, in its order and with its strict tests, in
    float32: Lightning logs a metric as a float32 tensor, keeps its best as one, and a Python float
    threshold or min_delta meets that tensor as float32. A value forwarded with `.item()` is a float32
    value, so the comparisons fall the way they fall in the real run, near-ties included."""
    f32 = np.float32
    better = np.greater if p.mode == "max" else np.less
    best = f32(st.best) if st.best is not None else f32(-math.inf if p.mode == "max" else math.inf)
    signed_delta = p.min_delta if p.mode == "max" else -p.min_delta
    # Past float32's range a value is inf, and inf - inf is NaN, silently, as in Lightning's tensors.
    with np.errstate(all="ignore"):
        current = f32(value)
        if p.check_finite and not np.isfinite(current):
            return _non_finite(p, st, step, value)
        if p.stopping_threshold is not None and better(current, f32(p.stopping_threshold)):
            return _threshold(p, st, step, value)
        if p.divergence_threshold is not None and better(-current, f32(-p.divergence_threshold)):
            return _diverged(p, st, step, value)
        improved = better(current - f32(signed_delta), best)
    if improved:
        st.best, st.best_raw, st.best_step, st.wait = float(current), value, step, 0
        return _running(p, st, step, value)
    st.wait += 1
    if st.wait >= p.patience:
        msg = (
            f"{p.monitor} did not improve in the last {st.wait} records (by more than min_delta "
            f"{_fmt(p.min_delta)}) at step {step}; best {_fmt(st.best_raw)} at step {st.best_step}"
        )
        return _decision(p, st, Reason.PATIENCE_EXHAUSTED, msg, step, stop=True)
    return _running(p, st, step, value)


def screen(p: Policy, st: StopState, step: int, value: float) -> Decision | None:
    """What every native rule checks first, in Lightning's order: non-finite, stopping threshold,
    divergence threshold. None when the value passes."""
    if not math.isfinite(value):
        if p.check_finite:
            return _non_finite(p, st, step, value)
        st.wait += 1
        return _patience_or_running(p, st, step, value)
    if p.stopping_threshold is not None and _sign(p) * (p.stopping_threshold - value) > 0:
        return _threshold(p, st, step, value)
    if p.divergence_threshold is not None and _sign(p) * (value - p.divergence_threshold) > 0:
        return _diverged(p, st, step, value)
    return None


def native_check(p: Policy, st: StopState, step: int, value: float) -> Decision:
    screened = screen(p, st, step, value)
    if screened is not None:
        return screened

    judged = _smooth(st, value, p.smoothing)
    st.recent.append(judged)
    st.recent_steps.append(step)
    del st.recent[: -_keep(p)], st.recent_steps[: -_keep(p)]
    delta = _delta(p, st.best)
    if st.best is None or _sign(p) * (st.best - judged) > delta:
        st.best, st.best_raw, st.best_step = judged, value, step
        if p.rule == "best":
            st.wait = 0
    elif p.rule == "best":
        st.wait += 1

    if p.rule == "window":
        return _window(p, st, step, value, delta)
    if p.rule == "trend":
        overfit = _overfit(p, st, step, value)
        trend = _trend(p, st, step, value)
        # The trend's own verdict first; the overfitting test catches the U-turn it is slow to see.
        return overfit if overfit is not None and not trend.should_stop else trend
    return _patience_or_running(p, st, step, value)


NOISE_DIFFS = 64  # successive differences kept for the noise estimate: O(1) per check, enough for a median


def _overfit(p: Policy, st: StopState, step: int, value: float) -> Decision | None:
    if len(st.recent) >= 2:
        st.diffs.append(st.recent[-1] - st.recent[-2])
        del st.diffs[:-NOISE_DIFFS]
    if p.overfit_sigmas is None or len(st.diffs) < 4 or st.best is None:
        st.above = 0
        return None
    d = np.asarray(st.diffs)
    # MAD of the differences, scaled to a normal sigma, over sqrt(2): the noise of one reading.
    sigma = 1.4826 * float(np.median(np.abs(d - np.median(d)))) / math.sqrt(2)
    margin = max(_delta(p, st.best), p.overfit_sigmas * sigma)
    st.above = st.above + 1 if _sign(p) * (st.recent[-1] - st.best) > margin else 0
    if st.above < p.patience or not _may_stop(p, step):
        return None
    side = "above" if p.mode == "min" else "below"
    msg = (
        f"{p.monitor} has stayed more than {_fmt(margin)} ({_fmt(p.overfit_sigmas)} sigma of its "
        f"eval-to-eval noise {_fmt(sigma)}) {side} its best {_fmt(st.best_raw)} at step {st.best_step} "
        f"for {st.above} checks: it is getting worse, not noisy (overfitting)"
    )
    return _decision(p, st, Reason.PATIENCE_EXHAUSTED, msg, step, stop=True)


def _window(p: Policy, st: StopState, step: int, value: float, delta: float) -> Decision:
    """scikit-learn's rule: stop when none of the last `patience` values beats the one before them."""
    if len(st.recent) <= p.patience:
        st.wait = 0
        return _running(p, st, step, value)
    ref = st.recent[-(p.patience + 1)]
    window = st.recent[-p.patience :]
    st.wait = 0 if any(_sign(p) * (ref - v) > delta for v in window) else p.patience
    if st.wait and _may_stop(p, step):
        ref_step = st.recent_steps[-(p.patience + 1)]
        msg = (
            f"none of the last {p.patience} values of {p.monitor} beat {_fmt(ref)} (step {ref_step}) by "
            f"more than {_fmt(delta)}; best {_fmt(st.best_raw)} at step {st.best_step}"
        )
        return _decision(p, st, Reason.PATIENCE_EXHAUSTED, msg, step, stop=True)
    return _running(p, st, step, value)


def _trend(p: Policy, st: StopState, step: int, value: float) -> Decision:
    """Theil-Sen slope of the last `trend_window` checks and its 90% interval, judged per `trend_test`:
    "improvement" counts a check as improving when the whole interval improves and the point gain
    beats min_delta; "plateau" counts it as improving while the optimistic end of the interval still
    gains more than min_delta over a window (an equivalence test). `patience` non-improving checks stop."""
    n = min(len(st.recent), p.trend_window)
    if n < p.trend_window:
        st.wait = 0
        return _running(p, st, step, value)
    y = np.asarray(st.recent[-n:], dtype=float) * _sign(p)
    x = np.asarray(st.recent_steps[-n:], dtype=float)
    if np.ptp(x) == 0:
        x = np.arange(n, dtype=float)
    slope, _, low, high = stats.theilslopes(y, x, alpha=0.90)
    span = x[-1] - x[0]
    delta = _delta(p, st.best)
    if p.trend_test == "plateau":
        optimistic = -low * span
        improving = optimistic > delta
    else:
        improving = high < 0 and -slope * span > delta
    st.wait = 0 if improving else st.wait + 1
    if st.wait >= p.patience and _may_stop(p, step):
        per_1k = f"{_sign(p) * slope * 1000:+.3g} per 1k steps"
        if p.trend_test == "plateau":
            msg = (
                f"{p.monitor} has plateaued for {st.wait} checks: Theil-Sen slope {per_1k} over the last {n} "
                f"checks; at 90% confidence at most {_fmt(max(optimistic, 0.0))} more over the next "
                f"{_fmt(span)} steps, not more than min_delta {_fmt(delta)}; best {_fmt(st.best_raw)} "
                f"at step {st.best_step}"
            )
        else:
            msg = (
                f"{p.monitor} has not been significantly improving for {st.wait} checks: Theil-Sen slope "
                f"{per_1k} over the last {n} checks; best {_fmt(st.best_raw)} at step {st.best_step}"
            )
        return _decision(p, st, Reason.PLATEAU, msg, step, stop=True)
    return _running(p, st, step, value)


def _patience_or_running(p: Policy, st: StopState, step: int, value: float) -> Decision:
    if st.wait >= p.patience and _may_stop(p, step):
        msg = (
            f"{p.monitor} did not improve by more than {_fmt(_delta(p, st.best))} for {st.wait} "
            f"evaluations; best {_fmt(st.best_raw)} at step {st.best_step}"
        )
        return _decision(p, st, Reason.PATIENCE_EXHAUSTED, msg, step, stop=True)
    return _running(p, st, step, value)


def _running(p: Policy, st: StopState, step: int, value: float) -> Decision:
    msg = (
        f"{p.monitor} {_fmt(value)} at step {step}; best {_fmt(st.best_raw)} at step {st.best_step}; "
        f"{st.wait} of {p.patience} checks without improvement"
    )
    if st.wait >= p.patience and not _may_stop(p, step):
        msg += f"; too early to judge: no stop before step {p.min_steps}"
    return _decision(p, st, Reason.NONE, msg, step, stop=False)


def _non_finite(p: Policy, st: StopState, step: int, value: float) -> Decision:
    msg = f"{p.monitor} = {value} at step {step} is not finite; " + (
        f"best {_fmt(st.best_raw)} at step {st.best_step}" if st.best_step is not None else "no finite value before it"
    )
    return _decision(p, st, Reason.NON_FINITE, msg, step, stop=True)


def _threshold(p: Policy, st: StopState, step: int, value: float) -> Decision:
    word = "below" if p.mode == "min" else "above"
    msg = (
        f"Stopping threshold reached: {p.monitor} = {_fmt(value)} at step {step} is {word} the stopping "
        f"threshold {p.stopping_threshold}"
    )
    return _decision(p, st, Reason.STOPPING_THRESHOLD, msg, step, stop=True)


def _diverged(p: Policy, st: StopState, step: int, value: float) -> Decision:
    word = "above" if p.mode == "min" else "below"
    msg = (
        f"Divergence threshold reached: {p.monitor} = {_fmt(value)} at step {step} is {word} the divergence threshold "
        f"{p.divergence_threshold}; best {_fmt(st.best_raw)} at step {st.best_step}"
    )
    return _decision(p, st, Reason.DIVERGENCE_THRESHOLD, msg, step, stop=True)


def _may_stop(p: Policy, step: int) -> bool:
    return step >= p.min_steps


def _delta(p: Policy, best: float | None) -> float:
    if p.delta_mode == "rel":
        # Relative to |best| so that a negative metric (a log-likelihood, a reward) is handled too.
        return p.min_delta * abs(best) if best is not None else 0.0
    return p.min_delta


def _smooth(st: StopState, value: float, weight: float) -> float:
    if weight <= 0:
        return value
    st.ema = st.ema * weight + (1 - weight) * value
    st.ema_n += 1
    return st.ema / (1 - weight**st.ema_n)


def _keep(p: Policy) -> int:
    """How many recent checks the state keeps: what its rule reads back and no more, since the state is saved
    on every ingest. `window` compares with the value `patience` checks ago, `trend` fits (and the overfitting
    clause differences) its last `trend_window`; `best` reads only its best."""
    if p.rule == "window":
        return p.patience + 1
    if p.rule == "trend":
        return p.trend_window
    return 1


def _sign(p: Policy) -> float:
    return 1.0 if p.mode == "min" else -1.0


def _fmt(value: float | None) -> str:
    return "none" if value is None else finite_str(value)


def _decision(p: Policy, st: StopState, reason: Reason, message: str, step: int | None, *, stop: bool) -> Decision:
    best = st.best_raw if st.best_raw is not None else None
    if best is not None and not math.isfinite(best):
        best = None
    return Decision(stop, reason, message, step, st.best_step, best, p.monitor, st.checks)
