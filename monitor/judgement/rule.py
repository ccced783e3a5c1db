"""The default rule (`rule: "forecast"`): stop when continuing is not expected to buy what it costs.

Two clauses, judged at every check of the monitored key (values oriented lower-is-better):

- overfitting: the readings since the best (at least `overfit_patience` of them, and at least `patience`)
  sit, by their lower median (of two readings, the lesser: one bad evaluation cannot carry a rise),
  more than max(`overfit_sigmas` noise sigmas, `regret` of the best) above it,
  *and* even at the optimistic end of that median's interval, the chance that any of the readings the run
  still has ahead comes back within `regret` of the best is under 1 - `forecast_level` (`return_chance`:
  a level that keeps rising, at the pessimistic end of its slope, leaves fewer lucky draws than a flat
  one). The first check where all of that holds stops the run: `overfit_patience` counts readings since
  the best, as transformers' patience counts evaluations without improvement, not checks in a row on
  top of them (which cost a run that overfits from an early best one more evaluation).
  The noise is the readings' own, from their second differences (`noise.reading_sigma`), so a curve
  that jumps about is not taken for one that turned up, and a smooth curve that turned up is not taken
  for a noisy one (the forecast's scatter, which counts how far its families miss the turn, is not used).
- levelling off: the forecast to the planned end (the run's config, while an evaluation is left before it; as
  far again as it has come without one or with none left) says that even the optimistic end of its
  `forecast_level` interval, lucky draws included, would improve on the best by less than `min_delta`:
  `patience` checks in a row stop the run.

Both need 3 readings (a noise scale needs 2 differences); before that the rule only watches. The best is
the best reading itself, so the decision and the diagnosis name the same step and value.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special, stats

from losswatch.monitor.diagnostics.overfitting import overfitting
from losswatch.monitor.diagnostics.series import recent_size
from losswatch.monitor.labels import pct
from losswatch.monitor.policy import Decision, Mode, Policy, Reason
from losswatch.monitor.smoothing import finite_str
from losswatch.monitor.stop_state import StopState
from losswatch.monitor.vocabulary import is_eval_key

from . import guard as loss_guard
from .forecast import NOISE_MIN_POINTS, Forecast, forecast
from .noise import spread_sigma, upper_reading_sigma
from .schedule import Schedule

# Readings kept in the state: the forecast thins longer series anyway, and the state stays small.
HISTORY = 256

# A noise scale needs two differences.
MIN_READINGS = 3

# The share of the plain spread of second differences (`noise.spread_sigma`) the reach of a lucky draw
# is judged with; for a trend-free curve of Gaussian noise both scales agree.
SPREAD_SHARE = 1.0


def check(p: Policy, schedule: Schedule, st: StopState, step: int, value: float) -> Decision:
    """One finite check of the monitored key (non-finite values and thresholds are screened before)."""
    sign = 1.0 if p.mode == "min" else -1.0
    j = st.judge
    steps: list[int] = [*j.get("steps", []), step][-HISTORY:]
    values: list[float] = [*j.get("values", []), value][-HISTORY:]
    j.update(steps=steps, values=values)
    y = sign * np.asarray(values, dtype=np.float64)
    b = int(np.argmin(y))
    st.best, st.best_raw, st.best_step = values[b], values[b], steps[b]
    if y.size < MIN_READINGS:
        j.update(flat=0)
        msg = (
            f"{p.monitor} {_fmt(value)} at step {step}; best {_fmt(values[b])} at step {steps[b]}; "
            f"{y.size} of {MIN_READINGS} {_readings(p)}s needed to judge"
        )
        early = {"clause": "warming", "value": value, "have": int(y.size), "need": MIN_READINGS}
        return _decision(p, st, Reason.NONE, msg, step, stop=False, facts=early)

    spacing = float(np.median(np.diff(steps)))  # MIN_READINGS (3) steps at least
    # With no evaluation left before the planned end the run is read as one at its plan, going on: read as one
    # with a reading still to go, a healthy run's last evaluation after a lucky low stopped as overfitting, while
    # the same run whose plan fell on that evaluation did not.
    horizon = schedule.horizon(step, every=spacing)
    # The plan, when the horizon is not it: "continuing to step 10000" on a run planned to end at 5001 needs its reason.
    planned = schedule.planned_steps if schedule.planned_steps != horizon else None
    fc = forecast(np.asarray(steps), y, horizon=horizon, level=p.forecast_level)
    # The readings' own scatter, at the upper end of what this many readings allow (a few readings can look
    # quieter than the run is). Not the forecast's: a family that misses a smooth turn would read its miss
    # as noise, and a U-shaped overfit went on twice as long as it had to.
    sigma = upper_reading_sigma(y)
    # Whether the readings since the best are out of reach is judged with the plain spread as well: a run
    # whose evaluations jump between levels has a quiet median difference and loud jumps.
    reach = max(sigma, SPREAD_SHARE * (spread_sigma(y[-max(NOISE_MIN_POINTS, y.size // 2) :]) or 0.0))
    ahead = max(1, int((horizon - step) // max(spacing, 1.0)))
    best = float(y[b])
    scale = abs(best) if best != 0 else 1.0

    since = y[b + 1 :]
    # The lower median: with two readings since the best it is the lesser, so one bad evaluation (a spike in a
    # healthy fall) cannot carry a rise on its own; the mean of two let it, and stopped such runs 4% short.
    rise = float(np.quantile(since, 0.5, method="lower")) - best if since.size >= waits_for(p) else None
    margin = max((p.overfit_sigmas or 0.0) * sigma, p.regret * scale)
    rising = rise is not None and rise > margin
    # What the readings ahead could still win back, relative to the best: the level since the best taken at
    # the optimistic end of its `forecast_level` interval (a median of k readings has a standard error of
    # 1.25 sigma / sqrt(k)), less the best of the readings still to come at the optimistic end too.
    chance = None
    if rise is not None:
        optimism = float(special.ndtri(p.forecast_level)) * 1.2533 * reach / math.sqrt(since.size)
        chance = return_chance(since, rise - optimism - p.regret * scale, reach, ahead, p.forecast_level)
    overfit = rising and chance is not None and chance < 1.0 - p.forecast_level

    gain_high = None
    if fc is not None:
        gain_high = fc.gain.high if p.delta_mode == "rel" else fc.gain.high * scale
    flat = gain_high is not None and gain_high < p.min_delta
    j["flat"] = j.get("flat", 0) + 1 if flat else 0
    may_stop = step >= p.min_steps

    # Overfitting is validation rising while training still falls; with the training loss up too, it is the
    # run going wrong (a learning rate too high), and the words say that instead.
    train_up = loss_guard.rose(st.guard) if is_eval_key(p.monitor) else None
    if overfit and may_stop:
        assert rise is not None
        msg = (
            f"{p.monitor} {_overfits(p, train_up)}: its {since.size} {_readings(p)}(s) since the best "
            f"{_fmt(values[b])} at step {steps[b]} sit {_fmt(rise)} {_worse(sign)} it (lower median), more than "
            f"{_fmt(margin)} (max of {_fmt(p.overfit_sigmas or 0.0)} sigma of its noise {_fmt(sigma)} and "
            f"{pct(p.regret)} of the best), and even the luckiest of the {ahead} {_readings(p)}(s) left before "
            f"step {horizon} is not expected to come back within {pct(p.regret)} of the best"
            f"{_past_plan(p, step, planned)}"
        )
        overfit_facts = {
            "clause": "overfitting",
            "train_up": list(train_up) if train_up else None,
            "since": int(since.size),
            "rise": rise,
            "margin": margin,
            "sigmas": p.overfit_sigmas or 0.0,
            "sigma": sigma,
            "regret": p.regret,
            "ahead": ahead,
            "horizon": horizon,
            "planned": planned,
        }
        return _decision(p, st, Reason.PATIENCE_EXHAUSTED, msg, step, stop=True, facts=overfit_facts)
    if j["flat"] >= p.patience and may_stop and fc is not None:
        # The words follow the curve as the diagnosis reads it too: a smooth climb whose rise this rule's
        # noise scale (curvature included) swallows is still a climb, never "levelling off".
        turned = rising or turned_up(steps, y)
        moved = "rising" if sign > 0 else "falling"  # away from its best, in the metric's own direction
        named = "" if not is_eval_key(p.monitor) else (" (overfitting)" if train_up is None else _train_up(train_up))
        shape = f"has been {moved} since its best{named}"
        shape = shape if turned else "is levelling off"
        msg = (
            f"{p.monitor} {shape}: continuing to step {horizon} is expected to improve on the best "
            f"{_fmt(values[b])} (step {steps[b]}) by {_gain_text(fc, p.forecast_level)}, less than min_delta "
            f"{_fmt(p.min_delta)}{' (relative)' if p.delta_mode == 'rel' else ''}, {j['flat']} check(s) in a row"
            f"{_past_plan(p, step, planned)}"
        )
        flat_facts = {
            "clause": "turned" if turned else "levelling",
            "train_up": list(train_up) if train_up else None,
            "horizon": horizon,
            "gain": _gain_facts(fc),
            "level": p.forecast_level,
            "min_delta": p.min_delta,
            "relative": p.delta_mode == "rel",
            "in_a_row": j["flat"],
            "planned": planned,
        }
        # A curve that rose from its best is overfitting whichever clause saw it first; the reason says so.
        reason = Reason.PATIENCE_EXHAUSTED if turned else Reason.PLATEAU
        return _decision(p, st, reason, msg, step, stop=True, facts=flat_facts)

    msg = f"{p.monitor} {_fmt(value)} at step {step}; best {_fmt(values[b])} at step {steps[b]}"
    facts: dict[str, Any] = {"clause": "watching", "value": value, "horizon": horizon, "level": p.forecast_level}
    if fc is not None:
        if planned is not None:
            msg += _past_plan(p, step, planned)
            facts["planned"] = planned
        if sign > 0 and fc.best > 0 and (fc.minimum.expected <= 0 or fc.gain.high >= 0.999):
            # The floor at 0 would be speaking ("by 100%"), not the curve: say why the forecast cannot tell.
            msg += (
                f"; the forecast to step {horizon} says little: the spread it allows each reading ahead "
                f"({_fmt(fc.sigma)}) lets the luckiest reach 0"
            )
            facts["outlook"] = "floor"
        elif since.size and fc.value.expected > best:
            # A curve that has turned, whose course ends worse than its best: any gain the forecast allows is a
            # lucky reading's. (A curve still setting new bests is not told so: a short series' flat family
            # ends above its latest reading.)
            msg += (
                f"; the forecast's course to step {horizon} stays {_worse(sign)} it, ending at about "
                f"{_fmt(sign * fc.value.expected)}: only a lucky reading could improve on it"
            )
            facts.update(outlook="course_worse", end=sign * fc.value.expected)
        else:
            msg += f"; continuing to step {horizon} is expected to improve on it by {_gain_text(fc, p.forecast_level)}"
            facts.update(outlook="gain", gain=_gain_facts(fc))
    if rising:
        msg += f"; {since.size} {_readings(p)}(s) since the best are {_fmt(rise)} {_worse(sign)} it (lower median)"
        facts.update(since=int(since.size), rise=rise)
    if not may_stop and (flat or overfit):
        msg += f"; too early to judge: no stop before step {p.min_steps}"
        facts["min_steps"] = p.min_steps
    return _decision(p, st, Reason.NONE, msg, step, stop=False, facts=facts)


def verdict(steps: np.ndarray, values: np.ndarray, *, monitor: str, mode: Mode, schedule: Schedule) -> Decision:
    """What the default rule says at the latest of these finite readings, as though it had watched them all.

    The diagnosis reads a curve with it, so that its state and a stop agree: a run this rule stops as
    overfitting is not called "unstable" or "too early to judge" beside that stop. With the default
    patience of 1 one check decides, so no counter from earlier checks is missing."""
    p = Policy(monitor=monitor, mode=mode)
    st = StopState(
        judge={
            "steps": [int(s) for s in steps[:-1][-(HISTORY - 1) :]],
            "values": [float(v) for v in values[:-1][-(HISTORY - 1) :]],
        }
    )
    return check(p, schedule, st, int(steps[-1]), float(values[-1]))


def waits_for(p: Policy) -> int:
    """The readings since the best the overfitting clause needs. A person who sets `patience` (the README's
    `{"patience": 3}`) means "at least that many evaluations without improvement" for either clause, so it is
    the floor here too; the default (1) leaves `overfit_patience`."""
    return max(p.overfit_patience, p.patience)


def return_chance(since: np.ndarray, gap: float, reach: float, ahead: int, level: float) -> float:
    """The chance that at least one of the `ahead` readings still to come lands back within the allowed
    regret of the best, for readings of noise `reach` whose level sits `gap` above that mark.

    The level is taken to keep rising at the pessimistic end (`level`) of the Theil-Sen interval of the
    readings since the best (never falling: a flat level is the careful reading), so an overfit that
    keeps climbing leaves fewer lucky draws than a flat stretch of the same noise. The climb is read from
    `TREND_READINGS` readings since the best on; fewer are a flat level. With a flat level this is the best of
    `ahead` independent draws (`noise.luckiest_of`)."""
    if reach <= 0:
        return 0.0 if gap > 0 else 1.0
    k = since.size
    slope = 0.0
    if k >= TREND_READINGS:
        fit = stats.theilslopes(since, np.arange(k, dtype=np.float64), alpha=theil_alpha(level))
        slope = max(0.0, float(fit.low_slope))
    # The median since the best sits at the middle of those readings; reading i ahead is (k-1)/2 + i later.
    i = np.arange(1, min(ahead, AHEAD_MAX) + 1, dtype=np.float64)
    above = gap + slope * ((k - 1) / 2 + i)
    return float(-np.expm1(np.sum(special.log_ndtr(above / reach))))


def theil_alpha(level: float) -> float:
    """scipy's `alpha` for a Theil-Sen interval whose low end is the one-sided `level` bound of the slope.

    scipy reads `alpha` as a two-sided interval that is never narrower than 50% (0.4 and 0.6 both mean
    60%; 0 has no interval at all), so the interval asked for is 2 * level - 1 and never narrower than 50%:
    below level 0.75 the slope is read at its 25th percentile, a lower (more careful) slope than asked."""
    return max(2.0 * level - 1.0, 0.5)


# The readings since the best a climb is read from. Three noisy readings rise in a row by chance in one run in
# six (1/3!), four in one in 24; taken for a climb and carried over the readings ahead, such rises stopped noisy healthy
# runs as early as their 5th evaluation, up to 48% short of their best. On runs of known truth (bench/synthetic.py,
# seeds 0, 7 and 11: 1200 runs of each kind) stops beyond the 1% goal went from 46 to 37 of the healthy runs and
# from 27 to 20 of the overfits, which saved about 5% less. On the shared curves the held-out default is unchanged; read
# without their plans, curves 10 and 39 lose their stops (bench/README.md).
TREND_READINGS = 4

# Readings ahead beyond this many add nothing the first ones have not already decided.
AHEAD_MAX = 100_000


def turned_up(steps: list[int], y: np.ndarray) -> bool:
    """Whether the diagnosis would read these (oriented) readings as validation that turned up beyond its
    noise and more than Prechelt's GL_1 (diagnostics/overfitting.py, without a training loss to read)."""
    x = np.asarray(steps, dtype=np.int64)
    window = recent_size(y.size)
    recent = float(stats.theilslopes(y[-window:], x[-window:].astype(np.float64)).slope) if window >= 2 else None
    empty = np.empty(0)
    return bool(overfitting(x, y, 1.0, empty.astype(np.int64), empty, recent)["detected"])


def _readings(p: Policy) -> str:
    """What one check is: an evaluation of a validation key, a reading of anything else."""
    return "evaluation" if is_eval_key(p.monitor) else "reading"


def _past_plan(p: Policy, step: int, planned: int | None) -> str:
    """Why the forecast runs past the run's plan: no reading is left before it, or the run is at or past it."""
    if planned is None:
        return ""
    where = f"no {_readings(p)} is left before" if step < planned else "it is at" if step == planned else "it is past"
    return f"; {where} its planned end (step {planned}), so it is read as going on"


def _overfits(p: Policy, train_up: tuple[float, float] | None = None) -> str:
    # Only a validation curve overfits; a training loss that rises from its best is getting worse.
    if not is_eval_key(p.monitor):
        return "is getting worse"
    return "is overfitting" if train_up is None else "is getting worse" + _train_up(train_up)


def _train_up(train_up: tuple[float, float]) -> str:
    level, best = train_up
    return (
        f", and so is the training loss (smoothed {_fmt(level)}, best {_fmt(best)}): not overfitting but "
        "training going wrong"
    )


def _worse(sign: float) -> str:
    return "above" if sign > 0 else "below"


def _fmt(value: float | None) -> str:
    return "none" if value is None else finite_str(value)


def _decision(
    p: Policy, st: StopState, reason: Reason, message: str, step: int, *, stop: bool, facts: dict[str, Any]
) -> Decision:
    best = st.best_raw if st.best_raw is not None and math.isfinite(st.best_raw) else None
    # The numbers of the message, for a person's language other than English (monitor/labels.py).
    facts = {k: float(v) if isinstance(v, np.floating) else v for k, v in facts.items()}
    facts["worse"] = "above" if p.mode == "min" else "below"
    return Decision(stop, reason, message, step, st.best_step, best, p.monitor, st.checks, facts=facts)


def _gain_facts(fc: Forecast) -> dict[str, float]:
    return {"expected": fc.gain.expected, "low": fc.gain.low, "high": fc.gain.high}


def _gain_text(fc: Forecast, level: float) -> str:
    return f"{pct(fc.gain.expected)} ({level:.0%} interval {pct(fc.gain.low)} to {pct(fc.gain.high)})"
