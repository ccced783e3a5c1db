"""The stopping engine: a policy applied one check at a time to a resumable, JSON-serialisable state.

A *check* is a new point of the monitored key. The state holds what the next check needs and nothing
more (best, counter, EMA, a bounded window of recent values), so a decision costs O(new points).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from losswatch.monitor import rules
from losswatch.monitor.policy import Decision, Policy, Reason
from losswatch.monitor.smoothing import finite_str
from losswatch.monitor.vocabulary import spell, unspell


@dataclass
class StopState:
    checks: int = 0
    last_step: int | None = None
    last_value: float | None = None
    best: float | None = None
    best_raw: float | None = None
    best_step: int | None = None
    wait: int = 0
    ema: float = 0.0
    ema_n: int = 0
    recent: list[float] = field(default_factory=list)
    recent_steps: list[int] = field(default_factory=list)
    hf_best: float | None = None
    stopped: dict[str, Any] | None = None
    last: dict[str, Any] | None = None
    guard: dict[str, Any] = field(default_factory=dict)
    diffs: list[float] = field(default_factory=list)
    above: int = 0

    def to_dict(self) -> dict[str, Any]:
        # JSON columns on PostgreSQL reject Infinity/NaN tokens, so non-finite floats travel as strings.
        return _encode(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> StopState:
        if not data:
            return cls()
        known = {k: v for k, v in _decode(data).items() if k in cls.__dataclass_fields__}
        return cls(**known)


class Stopper:
    """Applies one policy. `check` for the monitored key, `guard` for the training loss."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.sign = 1.0 if policy.mode == "min" else -1.0
        self.keep = max(policy.patience + 1, policy.trend_window)

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
            decision = rules.guard_training_loss(self, state, step, value)
            if decision is not None:
                decision.checks = state.checks
                self._record(state, decision)

    def feed_many(self, state: StopState, *, key: str, steps: list[int], values: list[float]) -> None:
        """`feed` for a run of points of one key, in step order; the guard is vectorised."""
        if key == "loss" and key != self.monitor:
            if self.policy.compat is None and not state.stopped:
                decision = rules.guard_training_losses(self, state, steps, values)
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
            decision = rules.hf_check(self, state, step, value)
        elif self.policy.compat == "lightning":
            decision = rules.lightning_check(self, state, step, value)
        else:
            decision = rules.native_check(self, state, step, value)
        decision.checks = state.checks
        self._record(state, decision)
        return decision

    def guard(self, state: StopState, *, step: int, value: float) -> Decision:
        if state.stopped:
            return Decision.from_dict(state.stopped)
        decision = rules.guard_training_loss(self, state, step, value)
        if decision is None:
            return self.current(state)
        decision.checks = state.checks
        self._record(state, decision)
        return decision

    def _record(self, state: StopState, decision: Decision) -> None:
        state.last = decision.to_dict()
        if decision.should_stop:
            state.stopped = state.last

    def decision(self, reason: Reason, message: str, step: int | None, state: StopState, *, stop: bool) -> Decision:
        best = state.best_raw if state.best_raw is not None else None
        if best is not None and not math.isfinite(best):
            best = None
        return Decision(stop, reason, message, step, state.best_step, best, self.monitor, state.checks)

    def fmt(self, value: float | None) -> str:
        return "none" if value is None else finite_str(value)


def _encode(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"__float__": spell(obj)}
    if isinstance(obj, dict):
        return {k: _encode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_encode(v) for v in obj]
    return obj


def _decode(obj: Any) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"__float__"}:
            return unspell(obj["__float__"])
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    return obj
