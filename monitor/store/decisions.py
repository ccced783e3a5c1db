"""Running the run's policy over new points, persisting its state, and recording every change."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, select, update

from losswatch.monitor.judgement.schedule import Schedule
from losswatch.monitor.models import DecisionRow, MetricKey, MetricPoint
from losswatch.monitor.models import StopState as StopStateRow
from losswatch.monitor.notify import outbox
from losswatch.monitor.policy import Decision, Policy, Reason, stored_policy
from losswatch.monitor.stopping import Stopper, StopState
from losswatch.monitor.store.values import decode

GUARD_KEY = "loss"


def policy_of(run: dict[str, Any]) -> Policy:
    return stored_policy(run.get("early_stopping"))


def stopper_of(run: dict[str, Any]) -> Stopper:
    """The run's policy with the run's plan (its config: planned steps, warm-up, evaluation interval)."""
    return Stopper(policy_of(run), Schedule.from_config(run.get("config")))


def load_state(conn: Connection, run_id: str) -> StopState:
    data = conn.scalar(select(StopStateRow.state).where(StopStateRow.run_id == run_id))
    return StopState.from_dict(data)


def save_state(conn: Connection, run_id: str, state: StopState) -> None:
    payload = state.to_dict()
    done = conn.execute(
        update(StopStateRow).where(StopStateRow.run_id == run_id).values(state=payload, updated_at=time.time())
    ).rowcount
    if not done:
        conn.execute(StopStateRow.__table__.insert().values(run_id=run_id, state=payload, updated_at=time.time()))


def with_manual(run: dict[str, Any], decision: Decision) -> Decision:
    """A person's stop wins over "keep going" but never hides a stop the policy already made."""
    if run.get("stop_requested") and not decision.should_stop:
        return Decision(
            True,
            Reason.MANUAL,
            f"manual stop: {run['stop_requested']}",
            decision.step,
            decision.best_step,
            decision.best_value,
            decision.monitor,
            decision.checks,
        )
    return decision


def current(conn: Connection, run: dict[str, Any]) -> Decision:
    stopper = stopper_of(run)
    return with_manual(run, stopper.current(load_state(conn, run["id"])))


def advance(conn: Connection, run: dict[str, Any], changed: dict[str, list[tuple[int, float]]]) -> Decision:
    """Feed the points this batch changed to the policy. O(new points), except after a rewrite of
    already-judged history (a resume or a rewind), which replays the monitored key once."""
    stopper = stopper_of(run)
    state = load_state(conn, run["id"])
    watched = changed.get(stopper.monitor, [])
    if watched and state.last_step is not None and min(s for s, _ in watched) <= state.last_step:
        state = replay_stored(conn, run["id"], stopper)
    else:
        events = [(s, 1, stopper.monitor, v) for s, v in watched]
        if stopper.monitor != GUARD_KEY:
            events += [(s, 0, GUARD_KEY, v) for s, v in changed.get(GUARD_KEY, [])]
        # Same step: the training loss is logged before the evaluation, as the Trainer does.
        _feed(stopper, state, sorted(events))
    save_state(conn, run["id"], state)
    decision = with_manual(run, stopper.current(state))
    record(conn, run["id"], decision)
    return decision


def replay_stored(conn: Connection, run_id: str, stopper: Stopper) -> StopState:
    state = StopState()
    _feed(stopper, state, stored_events(conn, run_id, stopper.monitor))
    return state


def _feed(stopper: Stopper, state: StopState, events: list[tuple[int, int, str, float]]) -> None:
    """Feed events in step order, handing each run of same-key points over at once."""
    i = 0
    while i < len(events):
        key = events[i][2]
        j = i
        while j < len(events) and events[j][2] == key:
            j += 1
        stopper.feed_many(state, key=key, steps=[e[0] for e in events[i:j]], values=[e[3] for e in events[i:j]])
        i = j


def stored_events(conn: Connection, run_id: str, monitor: str) -> list[tuple[int, int, str, float]]:
    keys = [monitor] if monitor == GUARD_KEY else [monitor, GUARD_KEY]
    rows = conn.execute(
        select(MetricKey.name, MetricPoint.step, MetricPoint.value, MetricPoint.flag)
        .join(MetricPoint, MetricPoint.key_id == MetricKey.id)
        .where(MetricKey.run_id == run_id, MetricKey.name.in_(keys))
    ).all()
    return sorted((r.step, 1 if r.name == monitor else 0, r.name, decode(r.value, r.flag)) for r in rows)


def record(conn: Connection, run_id: str, decision: Decision) -> None:
    last = conn.execute(
        select(DecisionRow.should_stop, DecisionRow.reason)
        .where(DecisionRow.run_id == run_id)
        .order_by(DecisionRow.id.desc())
        .limit(1)
    ).first()
    if last is None and not decision.should_stop and decision.step is None:
        return
    if last is not None and (bool(last.should_stop), last.reason) == (decision.should_stop, decision.reason.value):
        return
    now = time.time()
    if decision.should_stop and (last is None or not last.should_stop):
        # In the decision's own transaction: the stop cannot be recorded without its message.
        outbox.run_stopped(conn, run_id=run_id, decision=decision, now=now)
    conn.execute(
        DecisionRow.__table__.insert().values(
            run_id=run_id,
            step=decision.step,
            should_stop=decision.should_stop,
            reason=decision.reason.value,
            message=decision.message,
            details=decision.to_dict(),
            created_at=now,
        )
    )


def history(conn: Connection, run_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(select(DecisionRow.__table__).where(DecisionRow.run_id == run_id).order_by(DecisionRow.id))
    out = []
    for r in rows:
        d = dict(r.details or {})
        d.update(should_stop=r.should_stop, reason=r.reason, message=r.message, step=r.step, created_at=r.created_at)
        out.append(d)
    return out
