"""Running the run's policy over new points, persisting its state, and recording every change."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from sqlalchemy import Connection, func, select

from losswatch.monitor import budget
from losswatch.monitor.errors import Deferred
from losswatch.monitor.judgement.schedule import Schedule
from losswatch.monitor.models import DecisionRow, MetricKey, MetricPoint, MetricSummary
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
_LAST_STEP = (
    "SELECT s.last_step FROM metric_summaries s JOIN metric_keys k ON k.id = s.key_id WHERE k.run_id = ? AND k.name = ?"
)
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


def advance(
    conn: Connection,
    run: dict[str, Any],
    changed: dict[str, tuple[np.ndarray, np.ndarray]],
    *,
    stored_last: dict[str, int | None] | None = None,
    defer: bool = False,
) -> Decision:
    """Feed the points this batch changed ((steps, values) per key, sorted by step) to the policy.

    `stored_last` is each changed key's last stored step before the batch. Points that come after
    everything already fed are fed on: O(new points), with a snapshot every `snapshots.EVERY` checks.
    Points that belong earlier (a resume, a late point, an overwrite, a training loss sent after the
    evaluation of its step) rewrite judged history: the policy is replayed from the latest snapshot before
    them (monitor/store/snapshots.py), so the state is always the one a replay of every stored point in
    step order gives."""
    stopper = stopper_of(run)
    state = load_state(conn, run["id"])
    stored_last = dict(stored_last or {})
    if stopper.monitor in changed and GUARD_KEY not in stored_last and stopper.monitor != GUARD_KEY:
        # Not in this batch, so what is stored now is what was fed before it.
        row = driver.fetchone(conn, _LAST_STEP, (run["id"], GUARD_KEY))
        stored_last[GUARD_KEY] = None if row is None or row[0] is None else int(row[0])
    if state.basis is None and state == StopState():
        state.basis = snapshots.basis(stopper)  # a new run's
    since = _rewritten(stopper, state, changed, stored_last)
    if since is not None:
        if defer:
            # A replay's cost is not known before it runs: never on the event loop.
            raise Deferred(f"points at step {since} rewrite judged history: the policy is replayed from there")
        snapshots.forget(conn, run_id=run["id"], since=since)
        state = replay_stored(conn, run["id"], stopper, since=since)
    else:
        # Same step: the training loss is logged before the evaluation, as the Trainer does (order 0 before 1).
        watched = changed.get(stopper.monitor)
        parts = [] if watched is None else [(1, stopper.monitor, *watched)]
        if stopper.monitor != GUARD_KEY and GUARD_KEY in changed:
            parts.append((0, GUARD_KEY, *changed[GUARD_KEY]))
        # Only a state computed under this basis makes snapshots of it (one carried over a release is not).
        # The basis (a hash of the policy) is only worked out when there is a snapshot to keep: every 8 checks.
        taken = _feed_arrays(stopper, state, parts)
        if taken and state.basis == (under := snapshots.basis(stopper)):
            snapshots.keep(conn, run_id=run["id"], taken=taken, under=under)
    save_state(conn, run["id"], state)
    decision = with_manual(run, stopper.current(state))
    record(conn, run["id"], decision)
    return decision


def needs_rejudge(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether another policy or plan would judge the run's points differently (not a default spelled out, not a
    config key the plan ignores)."""
    return snapshots.basis(stopper_of(before)) != snapshots.basis(stopper_of(after))


def rejudge_ms(conn: Connection, run: dict[str, Any]) -> float:
    """What judging the run's stored points again under its policy costs (monitor/budget.py)."""
    stopper = stopper_of(run)
    checks = conn.scalar(
        select(func.coalesce(func.sum(MetricSummary.count), 0))
        .join(MetricKey, MetricKey.id == MetricSummary.key_id)
        .where(MetricKey.run_id == run["id"], MetricKey.name == stopper.monitor)
    )
    return budget.batch_ms(stopper.policy, int(checks or 0), 0)


def rejudge(conn: Connection, *, after: dict[str, Any]) -> None:
    """The run's policy or plan changed (a resume brought its own): its state becomes the one the new ones
    give over every stored point, replayed from the start, and a changed decision is recorded as any is."""
    stopper = stopper_of(after)
    snapshots.forget(conn, run_id=after["id"], since=0)
    state = replay_stored(conn, after["id"], stopper)
    save_state(conn, after["id"], state)
    record(conn, after["id"], with_manual(after, stopper.current(state)))


def _rewritten(
    stopper: Stopper,
    state: StopState,
    changed: dict[str, tuple[np.ndarray, np.ndarray]],
    stored_last: dict[str, int | None],
) -> int | None:
    """The first step whose changed points belong before something the policy was already fed, or None.
    In step order the training loss goes before the evaluation of its step: an evaluation lands behind a
    training loss of a later step, a training loss behind an evaluation of its own step or a later one.
    Training losses out of their own order before the first evaluation are fed as they come: there is no
    snapshot to replay from yet, and a replay from the start on every such batch would grow with the run."""

    def at(step: int | None) -> float:
        return -math.inf if step is None else float(step)

    fed_check = at(state.last_step)
    fed_loss = at(stored_last.get(GUARD_KEY)) if stopper.monitor != GUARD_KEY else -math.inf
    fed_own = at(stored_last.get(stopper.monitor))
    late = []
    if stopper.monitor in changed and changed[stopper.monitor][0].size:
        first = int(changed[stopper.monitor][0][0])
        if first <= max(fed_check, fed_own) or first < fed_loss:
            late.append(first)
    if stopper.monitor != GUARD_KEY and GUARD_KEY in changed and changed[GUARD_KEY][0].size:
        first = int(changed[GUARD_KEY][0][0])
        if first <= fed_check or (first <= fed_loss and state.checks > 0):
            late.append(first)
    return min(late) if late else None


# A stretch of one key's points in step order: (key, steps, values).
Stretch = tuple[str, list[int], list[float]]


def _feed_arrays(
    stopper: Stopper, state: StopState, parts: list[tuple[int, str, np.ndarray, np.ndarray]]
) -> list[tuple[int, dict[str, Any]]]:
    """Feed one or two keys' points merged in (step, order), each run of same-key points at once."""
    if len(parts) == 1:
        _, key, steps, values = parts[0]
        return _feed_runs(stopper, state, [(key, steps.tolist(), values.tolist())])
    if not parts:
        return []
    steps = np.concatenate([p[2] for p in parts])
    values = np.concatenate([p[3] for p in parts])
    which = np.concatenate([np.full(p[2].size, i) for i, p in enumerate(parts)])
    order = np.array([p[0] for p in parts])[which]
    idx = np.lexsort((order, steps))
    steps, values, which = steps[idx], values[idx], which[idx]
    cuts = [0, *(np.flatnonzero(which[1:] != which[:-1]) + 1).tolist(), int(steps.size)]
    runs = [
        (parts[int(which[a])][1], steps[a:b].tolist(), values[a:b].tolist())
        for a, b in zip(cuts[:-1], cuts[1:], strict=True)
    ]
    return _feed_runs(stopper, state, runs)


def replay_stored(conn: Connection, run_id: str, stopper: Stopper, *, since: int | None = None) -> StopState:
    """`replayed`, keeping the snapshots it took."""
    state, taken = replayed(conn, run_id, stopper, since=since)
    if taken:
        snapshots.keep(conn, run_id=run_id, taken=taken, under=snapshots.basis(stopper))
    return state


def replayed(
    conn: Connection, run_id: str, stopper: Stopper, *, since: int | None = None
) -> tuple[StopState, list[tuple[int, dict[str, Any]]]]:
    """The state after every stored point, fed in step order, and the snapshots taken on the way: from the
    latest snapshot before `since` (the first step whose points changed; the snapshots from there on must
    already be forgotten), or from the start. Reads only."""
    under = snapshots.basis(stopper)
    start = None if since is None else snapshots.latest(conn, run_id=run_id, before=since, under=under)
    after, state = start if start is not None else (None, StopState(basis=under))
    events = stored_events(conn, run_id, stopper.monitor, after=after)
    runs: list[Stretch] = []
    for e in events:
        if runs and runs[-1][0] == e[2]:
            runs[-1][1].append(e[0])
            runs[-1][2].append(e[3])
        else:
            runs.append((e[2], [e[0]], [e[3]]))
    return state, _feed_runs(stopper, state, runs)


def _feed_runs(stopper: Stopper, state: StopState, runs: list[Stretch]) -> list[tuple[int, dict[str, Any]]]:
    """Feed runs of same-key points (in step order, the training loss of a step before its evaluation);
    returns the snapshots (step, state) taken every `snapshots.EVERY` checks. A check is the last point of
    its step, so a snapshot there holds every point up to its step."""
    taken: list[tuple[int, dict[str, Any]]] = []
    for key, steps, values in runs:
        i = 0
        while i < len(steps):
            j = len(steps)
            if key == stopper.monitor and not state.stopped:
                # Up to the next multiple of EVERY checks, then on.
                j = min(j, i + snapshots.EVERY - state.checks % snapshots.EVERY)
            stopper.feed_many(state, key=key, steps=steps[i:j], values=values[i:j])
            if key == stopper.monitor and not state.stopped and state.checks % snapshots.EVERY == 0:
                taken.append((steps[j - 1], state.to_dict()))
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
