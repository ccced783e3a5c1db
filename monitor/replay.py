"""What a policy would have decided over a stored history: every check, and the first stop."""

from __future__ import annotations

from collections.abc import Iterable

from losswatch.monitor.judgement.schedule import Schedule
from losswatch.monitor.policy import Decision, Policy
from losswatch.monitor.stopping import Stopper, StopState


def replay(
    policy: Policy, events: Iterable[tuple[int, int, str, float]], schedule: Schedule | None = None
) -> tuple[list[Decision], Decision | None]:
    """`events` are (step, order, key, value) sorted by step, the training loss before the evaluation;
    `schedule` is the run's plan (from its config)."""
    stopper = Stopper(policy, schedule)
    state = StopState()
    checks: list[Decision] = []
    for step, _, key, value in events:
        decision = stopper.observe(state, key=key, step=step, value=value)
        if key == policy.monitor:
            checks.append(decision)
        if decision.should_stop:
            return checks, decision
    return checks, None
