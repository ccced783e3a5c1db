"""Running the run's policy over new points, persisting its state, and recording every change."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sqlalchemy import Connection, select

from losswatch.monitor.judgement.schedule import Schedule
from losswatch.monitor.models import DecisionRow, MetricKey, MetricPoint
from losswatch.monitor.notify import outbox
from losswatch.monitor.policy import Decision, Policy, Reason, stored_policy
from losswatch.monitor.stopping import Stopper, StopState
from losswatch.monitor.store import driver, snapshots
from losswatch.monitor.store.values import decode

GUARD_KEY = "loss"


def policy_of(run: dict[str, Any]) -> Policy:
    return stored_policy(run.get("early_stopping"))


def stopper_of(run: dict[str, Any]) -> Stopper:
    """The run's policy with the run's plan (its config: planned steps, warm-up, evaluation interval)."""
    return Stopper(policy_of(run), Schedule.from_config(run.get("config")))


# Every ingest runs these: straight on the driver (monitor/store/driver.py).
_LOAD_STATE = "SELECT state FROM stop_states WHERE run_id = ?"
_UPDATE_STATE = "UPDATE stop_states SET state = ?, updated_at = ? WHERE run_id = ?"
_INSERT_STATE = "INSERT INTO stop_states (run_id, state, updated_at) VALUES (?, ?, ?)"
_LAST_DECISION = "SELECT should_stop, reason FROM decisions WHERE run_id = ? ORDER BY id DESC LIMIT 1"
_INSERT_DECISION = (
    "INSERT INTO decisions (run_id, step, should_stop, reason, message, details, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def load_state(conn: Connection, run_id: str) -> StopState:
    row = driver.fetchone(conn, _LOAD_STATE, (run_id,))
    return StopState.from_dict(driver.json_value(row[0]) if row is not None else None)


def save_state(conn: Connection, run_id: str, state: StopState) -> None:
    payload = driver.json_param(conn, state.to_dict())
    now = time.time()
    if not driver.execute(conn, _UPDATE_STATE, (payload, now, run_id)).rowcount:
        driver.execute(conn, _INSERT_STATE, (run_id, payload, now))


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


def advance(conn: Connection, run: dict[str, Any], changed: dict[str, tuple[np.ndarray, np.ndarray]]) -> Decision:
    """Feed the points this batch changed ((steps, values) per key, sorted by step) to the policy.
    O(new points), except after a rewrite of already-judged history (a resume, a late point), which
    replays the monitored key from the latest snapshot before it (monitor/store/snapshots.py)."""
    stopper = stopper_of(run)
    state = load_state(conn, run["id"])
    watched = changed.get(stopper.monitor)
    firsts = [int(changed[k][0][0]) for k in {stopper.monitor, GUARD_KEY} if k in changed and changed[k][0].size]
    if firsts and state.last_step is not None and min(firsts) <= state.last_step:
        # History the snapshots were taken over has changed.
        snapshots.forget(conn, run_id=run["id"], since=min(firsts))
    if watched is not None and state.last_step is not None and int(watched[0][0]) <= state.last_step:
        state = replay_stored(conn, run["id"], stopper, since=min(firsts))
    else:
        # Same step: the training loss is logged before the evaluation, as the Trainer does (order 0 before 1).
        parts = [] if watched is None else [(1, stopper.monitor, *watched)]
        if stopper.monitor != GUARD_KEY and GUARD_KEY in changed:
            parts.append((0, GUARD_KEY, *changed[GUARD_KEY]))
        _feed_arrays(stopper, state, parts)
    save_state(conn, run["id"], state)
    decision = with_manual(run, stopper.current(state))
    record(conn, run["id"], decision)
    return decision


def _feed_arrays(stopper: Stopper, state: StopState, parts: list[tuple[int, str, np.ndarray, np.ndarray]]) -> None:
    """Feed one or two keys' points merged in (step, order), each run of same-key points at once."""
    if len(parts) == 1:
        _, key, steps, values = parts[0]
        stopper.feed_many(state, key=key, steps=steps.tolist(), values=values.tolist())
        return
    if not parts:
        return
    steps = np.concatenate([p[2] for p in parts])
    values = np.concatenate([p[3] for p in parts])
    which = np.concatenate([np.full(p[2].size, i) for i, p in enumerate(parts)])
    order = np.array([p[0] for p in parts])[which]
    idx = np.lexsort((order, steps))
    steps, values, which = steps[idx], values[idx], which[idx]
    cuts = [0, *(np.flatnonzero(which[1:] != which[:-1]) + 1).tolist(), int(steps.size)]
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        key = parts[int(which[a])][1]
        stopper.feed_many(state, key=key, steps=steps[a:b].tolist(), values=values[a:b].tolist())


def replay_stored(conn: Connection, run_id: str, stopper: Stopper, *, since: int | None = None) -> StopState:
    """The state after every stored point, fed in step order: from the latest snapshot before `since` (the
    first step whose points changed; the snapshots from there on must already be forgotten), or from the
    start. Takes snapshots as it goes."""
    start = None if since is None else snapshots.latest(conn, run_id=run_id, before=since)
    after, state = start if start is not None else (None, StopState())
    taken = _feed(stopper, state, stored_events(conn, run_id, stopper.monitor, after=after))
    snapshots.keep(conn, run_id=run_id, taken=taken)
    return state


def _feed(
    stopper: Stopper, state: StopState, events: list[tuple[int, int, str, float]]
) -> list[tuple[int, dict[str, Any]]]:
    """Feed events in step order, handing each run of same-key points over at once; returns the snapshots
    (step, state) taken every `snapshots.EVERY` checks. A check is the last event of its step (the
    monitored key sorts after the training loss), so a snapshot there holds every point up to its step."""
    taken: list[tuple[int, dict[str, Any]]] = []
    i = 0
    while i < len(events):
        key = events[i][2]
        j = i
        while j < len(events) and events[j][2] == key:
            j += 1
        if key == stopper.monitor and not state.stopped:
            # Up to the next multiple of EVERY checks, then the rest of this run of checks.
            j = min(j, i + snapshots.EVERY - state.checks % snapshots.EVERY)
        stopper.feed_many(state, key=key, steps=[e[0] for e in events[i:j]], values=[e[3] for e in events[i:j]])
        if key == stopper.monitor and not state.stopped and state.checks % snapshots.EVERY == 0:
            taken.append((events[j - 1][0], state.to_dict()))
        i = j
    return taken


def stored_events(
    conn: Connection, run_id: str, monitor: str, *, after: int | None = None
) -> list[tuple[int, int, str, float]]:
    """The monitored key's and the training loss's stored points (after step `after`, if given), as
    (step, order, key, value) in the order a replay feeds them."""
    keys = [monitor] if monitor == GUARD_KEY else [monitor, GUARD_KEY]
    query = (
        select(MetricKey.name, MetricPoint.step, MetricPoint.value, MetricPoint.flag)
        .join(MetricPoint, MetricPoint.key_id == MetricKey.id)
        .where(MetricKey.run_id == run_id, MetricKey.name.in_(keys))
    )
    if after is not None:
        query = query.where(MetricPoint.step > after)
    rows = conn.execute(query).all()
    return sorted((r.step, 1 if r.name == monitor else 0, r.name, decode(r.value, r.flag)) for r in rows)


def record(conn: Connection, run_id: str, decision: Decision) -> None:
    last = driver.fetchone(conn, _LAST_DECISION, (run_id,))
    if last is None and not decision.should_stop and decision.step is None:
        return
    if last is not None and (bool(last[0]), last[1]) == (decision.should_stop, decision.reason.value):
        return
    now = time.time()
    if decision.should_stop and (last is None or not last[0]):
        # In the decision's own transaction: the stop cannot be recorded without its message.
        outbox.run_stopped(conn, run_id=run_id, decision=decision, now=now)
    driver.execute(
        conn,
        _INSERT_DECISION,
        (
            run_id,
            decision.step,
            decision.should_stop,
            decision.reason.value,
            decision.message,
            driver.json_param(conn, decision.to_dict()),
            now,
        ),
    )


def history(conn: Connection, run_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(select(DecisionRow.__table__).where(DecisionRow.run_id == run_id).order_by(DecisionRow.id))
    out = []
    for r in rows:
        d = dict(r.details or {})
        d.update(should_stop=r.should_stop, reason=r.reason, message=r.message, step=r.step, created_at=r.created_at)
        out.append(d)
    return out
