"""The stopping engine: which rule judges a point, applied one check at a time to a resumable state.

A *check* is a new point of the monitored key. The rules (monitor/rules.py) are pure functions over the
policy and the state (monitor/stop_state.py); this module only dispatches to them and records the result.
"""

from __future__ import annotations

import math

import numpy as np

from losswatch.monitor import rules
from losswatch.monitor.judgement import guard as loss_guard
from losswatch.monitor.judgement import rule as forecast_rule
from losswatch.monitor.judgement.schedule import Schedule
from losswatch.monitor.policy import Decision, Policy, Reason
from losswatch.monitor.smoothing import finite_str
from losswatch.monitor.stop_state import StopState
from losswatch.monitor.vocabulary import TRAIN_LOSS, is_eval_key

__all__ = ["Stopper", "StopState"]


class Stopper:
    """Applies one policy. `check` for the monitored key, `guard` for the training loss. The schedule (the
    run's plan, from its config) tells the rules how far the run is meant to go and when warm-up ends."""

    def __init__(self, policy: Policy, schedule: Schedule | None = None) -> None:
        self.policy = policy
        self.schedule = schedule or Schedule()

    @property
    def monitor(self) -> str:
        return self.policy.monitor

    def current(self, state: StopState) -> Decision:
        if state.stopped:
            return Decision.from_dict(state.stopped)
        if state.last:
            return Decision.from_dict(state.last)
        return Decision(
            False, Reason.NONE, f"waiting for the first {self.monitor} value", None, None, None, self.monitor, 0
        )

    def observe(self, state: StopState, *, key: str, step: int, value: float) -> Decision:
        if key == self.monitor:
            return self.check(state, step=step, value=value)
        if self._due(state, step):
            return self._record(state, self._release(state, step))
        if key == TRAIN_LOSS and self.policy.compat is None:
            return self.guard(state, step=step, value=value)
        return self.current(state)

    def feed(self, state: StopState, *, key: str, step: int, value: float) -> None:
        """`observe` without building a decision for the points that change nothing: the ingest hot path
        feeds every training-loss point through the guard."""
        if key == self.monitor:
            self.check(state, step=step, value=value)
        elif self._due(state, step):
            self._record(state, self._release(state, step))
        elif key == TRAIN_LOSS and self.policy.compat is None and not state.stopped:
            decision = self._guard(state, [step], [value])
            if decision is not None:
                decision.checks = state.checks
                self._record(state, decision)

    def feed_many(self, state: StopState, *, key: str, steps: list[int], values: list[float]) -> None:
        """`feed` for a run of points of one key, in step order; the guard is vectorised."""
        if key == TRAIN_LOSS and key != self.monitor:
            if self.policy.compat is None and not state.stopped and not state.held:
                decision = self._guard(state, steps, values)
                if decision is not None:
                    decision.checks = state.checks
                    self._record(state, decision)
            if state.held and not state.stopped:
                due = next((s for s in steps if s >= self.policy.min_steps), None)
                if due is not None:
                    self._record(state, self._release(state, due))
            return
        for step, value in zip(steps, values, strict=True):
            self.feed(state, key=key, step=step, value=value)

    def check(self, state: StopState, *, step: int, value: float) -> Decision:
        if state.stopped:
            return Decision.from_dict(state.stopped)
        state.checks += 1
        state.last_step, state.last_value = step, value
        if self.policy.compat == "hf":
            decision = rules.hf_check(self.policy, state, step, value)
        elif self.policy.compat == "lightning":
            decision = rules.lightning_check(self.policy, state, step, value)
        elif self.policy.rule == "forecast":
            decision = rules.screen(self.policy, state, step, value) or forecast_rule.check(
                self.policy, self.schedule, state, step, value
            )
        else:
            decision = rules.native_check(self.policy, state, step, value)
        decision.checks = state.checks
        return self._record(state, decision)

    def guard(self, state: StopState, *, step: int, value: float) -> Decision:
        if state.stopped:
            return Decision.from_dict(state.stopped)
        decision = self._guard(state, [step], [value])
        if decision is None:
            return self.current(state)
        decision.checks = state.checks
        return self._record(state, decision)

    def _guard(self, state: StopState, steps: list[int], values: list[float]) -> Decision | None:
        """The training-loss guard over points in step order: a non-finite loss stops at once (unless the
        policy says not to check), the rest goes to `judgement.guard`."""
        x = np.asarray(values, dtype=np.float64)
        # Until its first evaluation, a run that will be evaluated is only stopped for a loss beyond recovery.
        pending = (
            self.monitor != TRAIN_LOSS and is_eval_key(self.monitor) and state.checks == 0
        ) and self.schedule.evaluates is not False
        start = 0
        for stop_at in [*np.flatnonzero(~np.isfinite(x)).tolist(), x.size]:
            if stop_at > start:
                verdict = loss_guard.feed(state.guard, steps[start:stop_at], x[start:stop_at], self.schedule, pending)
                if verdict is not None:
                    msg = _diverged_message(verdict)
                    return self._decision(Reason.DIVERGENCE_THRESHOLD, msg, verdict.step, state)
            if stop_at < x.size and self.policy.check_finite:
                msg = (
                    f"training loss is {x[stop_at]} at step {steps[stop_at]}; the run cannot recover from a "
                    "non-finite loss"
                )
                return self._decision(Reason.NON_FINITE, msg, steps[stop_at], state)
            start = stop_at + 1
        return None

    def _decision(self, reason: Reason, message: str, step: int, state: StopState) -> Decision:
        """A stop by the training-loss guard."""
        best = state.best_raw
        best = best if best is not None and np.isfinite(best) else None
        return Decision(True, reason, message, step, state.best_step, best, self.monitor, state.checks, key=TRAIN_LOSS)

    def _record(self, state: StopState, decision: Decision) -> Decision:
        """Remember the decision; a stop before min_steps is held (Lightning's Trainer(min_steps) keeps
        `should_stop` set and ends the fit at min_steps), and a held stop is released at min_steps."""
        step = decision.step
        if step is not None and step < self.policy.min_steps:
            if decision.should_stop:
                state.held = decision.to_dict()
                decision = self._holding(state, decision, new=True)
            elif state.held:
                decision = self._holding(state, decision, new=False)
        elif not decision.should_stop and step is not None and self._due(state, step):
            decision = self._release(state, step)
        state.last = decision.to_dict()
        if decision.should_stop:
            state.stopped = state.last
        return decision

    def _due(self, state: StopState, step: int) -> bool:
        return bool(state.held) and not state.stopped and step >= self.policy.min_steps

    def _holding(self, state: StopState, decision: Decision, *, new: bool) -> Decision:
        n = self.policy.min_steps
        if new:
            message = f"{decision.message}; no stop before step {n} (min_steps): the stop is held until then"
        else:
            held = Decision.from_dict(state.held or {})
            message = f"{decision.message}; a stop is held until step {n} (min_steps): {held.message}"
        return Decision(
            False, Reason.NONE, message, decision.step, state.best_step, _best(state), self.monitor, state.checks
        )

    def _release(self, state: StopState, step: int) -> Decision:
        held = Decision.from_dict(state.held or {})
        message = (
            f"{held.message} (at step {held.step}); held until step {self.policy.min_steps} (min_steps), "
            f"stopping at step {step}"
        )
        return Decision(True, held.reason, message, step, state.best_step, _best(state), self.monitor, state.checks)


def _best(state: StopState) -> float | None:
    best = state.best_raw
    return best if best is not None and math.isfinite(best) else None


def _diverged_message(v: loss_guard.Verdict) -> str:
    why = {
        "sustained": f"for {v.points} points over {v.step - v.start} steps since step {v.start}",
        "frozen": f"for {v.points} points and is frozen there",
        "climbing": f"for {v.points} points and is still climbing",
    }[v.kind]
    return (
        f"training loss {finite_str(v.value)} at step {v.step} has stayed above {finite_str(v.limit)} {why} "
        f"({finite_str(loss_guard.GUARD_FACTOR)}x its best smoothed level {finite_str(v.best)}, above its first "
        f"value {finite_str(v.first)} and beyond {finite_str(loss_guard.NOISE_K)} sigma of its own noise): "
        "the run has diverged"
    )
