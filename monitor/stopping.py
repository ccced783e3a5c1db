"""The stopping engine: which rule judges a point, applied one check at a time to a resumable state.

A *check* is a new point of the monitored key. The rules (monitor/rules.py) are pure functions over the
policy and the state (monitor/stop_state.py); this module only dispatches to them and records the result.
"""

from __future__ import annotations

from losswatch.monitor import rules
from losswatch.monitor.policy import Decision, Policy, Reason
from losswatch.monitor.stop_state import StopState

__all__ = ["Stopper", "StopState"]


class Stopper:
    """Applies one policy. `check` for the monitored key, `guard` for the training loss."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

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
        if key == "loss" and self.policy.compat is None:
            return self.guard(state, step=step, value=value)
        return self.current(state)

    def feed(self, state: StopState, *, key: str, step: int, value: float) -> None:
        """`observe` without building a decision for the points that change nothing: the ingest hot path
        feeds every training-loss point through the guard."""
        if key == self.monitor:
            self.check(state, step=step, value=value)
        elif key == "loss" and self.policy.compat is None and not state.stopped:
            decision = rules.guard_training_loss(self.policy, state, step, value)
            if decision is not None:
                decision.checks = state.checks
                self._record(state, decision)

    def feed_many(self, state: StopState, *, key: str, steps: list[int], values: list[float]) -> None:
        """`feed` for a run of points of one key, in step order; the guard is vectorised."""
        if key == "loss" and key != self.monitor:
            if self.policy.compat is None and not state.stopped:
                decision = rules.guard_training_losses(self.policy, state, steps, values)
                if decision is not None:
                    decision.checks = state.checks
                    self._record(state, decision)
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
        else:
            decision = rules.native_check(self.policy, state, step, value)
        decision.checks = state.checks
        self._record(state, decision)
        return decision

    def guard(self, state: StopState, *, step: int, value: float) -> Decision:
        if state.stopped:
            return Decision.from_dict(state.stopped)
        decision = rules.guard_training_loss(self.policy, state, step, value)
        if decision is None:
            return self.current(state)
        decision.checks = state.checks
        self._record(state, decision)
        return decision

    def _record(self, state: StopState, decision: Decision) -> None:
        state.last = decision.to_dict()
        if decision.should_stop:
            state.stopped = state.last
