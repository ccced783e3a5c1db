"""Writing events into the outbox (inside the caller's transaction) and the worker's side of it:
leasing due messages, marking them delivered, backing off after a failure."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, insert, or_, select, update

from losswatch.monitor.db import writer
from losswatch.monitor.models import MetricKey, MetricSummary, NotificationTarget, OutboxMessage, Project, Run
from losswatch.monitor.notify import TEST
from losswatch.monitor.policy import Decision
from losswatch.monitor.store.values import decode
from losswatch.monitor.vocabulary import spell

PENDING, DONE, FAILED, SKIPPED = "pending", "done", "failed", "skipped"
# Set on a connection whose transaction queued a message: the worker of this process, told at commit,
# delivers at once instead of at its next poll (other processes find the message by polling).
QUEUED = "losswatch_outbox_queued"


def _run_facts(conn: Connection, run_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(Run.id, Run.name, Run.project_id, Project.name.label("project"))
        .join(Project, Project.id == Run.project_id)
        .where(Run.id == run_id)
    ).first()
    if row is None:
        return None
    return {"project_id": row.project_id, "project": row.project, "run_id": row.id, "run_name": row.name}


def _targets(conn: Connection, project_id: int, event: str) -> list[int]:
    rows = conn.execute(
        select(NotificationTarget.id, NotificationTarget.events).where(NotificationTarget.project_id == project_id)
    ).all()
    return [r.id for r in rows if event in (r.events or [])]


def _listening(conn: Connection, run_id: str, event: str) -> list[int]:
    """The targets of the run's project that take `event`. Asked before a message's facts are gathered:
    for a project nobody is told about (most of them), they are not worth the queries."""
    run = _run_facts(conn, run_id)
    return [] if run is None else _targets(conn, run["project_id"], event)


def _last_value(conn: Connection, run_id: str, key: str) -> float | str | None:
    """The key's last value as the wire spells it ("NaN" for a NaN: the summary's value is empty then)."""
    row = conn.execute(
        select(MetricSummary.last_value, MetricSummary.last_flag, MetricSummary.last_step)
        .join(MetricKey, MetricKey.id == MetricSummary.key_id)
        .where(MetricKey.run_id == run_id, MetricKey.name == key)
    ).first()
    return None if row is None or row.last_step is None else spell(decode(row.last_value, row.last_flag))


def last_step(conn: Connection, run_id: str) -> int | None:
    return conn.scalar(
        select(func.max(MetricSummary.last_step))
        .join(MetricKey, MetricKey.id == MetricSummary.key_id)
        .where(MetricKey.run_id == run_id)
    )


def emit(
    conn: Connection,
    *,
    run_id: str,
    event: str,
    now: float,
    step: int | None,
    extra: dict[str, Any] | None = None,
    target_ids: list[int] | None = None,
) -> list[str]:
    """Queue `event` for every target of the run's project that wants it; returns the messages' ids.

    Facts are stored language-neutral: each target's words and format are made at delivery."""
    run = _run_facts(conn, run_id)
    if run is None:
        return []
    targets = target_ids if target_ids is not None else _targets(conn, run["project_id"], event)
    facts = {
        "project": run["project"],
        "run_id": run_id,
        "run_name": run["run_name"],
        "step": step,
        "path": f"/runs/{run_id}",
        "time": now,
        **(extra or {}),
    }
    return _queue(conn, target_ids=targets, run_id=run_id, event=event, facts=facts, now=now)


def _queue(
    conn: Connection, *, target_ids: list[int], run_id: str | None, event: str, facts: dict[str, Any], now: float
) -> list[str]:
    """One pending message per target, in the caller's transaction; the worker is woken when it commits."""
    ids = []
    for target_id in target_ids:
        mid = uuid.uuid4().hex
        conn.execute(
            insert(OutboxMessage).values(
                id=mid,
                target_id=target_id,
                run_id=run_id,
                event=event,
                facts=dict(facts),
                status=PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        ids.append(mid)
    if ids:
        conn.info[QUEUED] = True
    return ids


def _decision_facts(conn: Connection, run_id: str, decision: Decision) -> dict[str, Any]:
    value = _last_value(conn, run_id, decision.monitor)
    return {"decision": decision.to_dict(), "value": value}


def run_stopped(conn: Connection, *, run_id: str, decision: Decision, now: float) -> list[str]:
    """The policy (or a person) has just decided this run should stop."""
    targets = _listening(conn, run_id, "stop")
    if not targets:
        return []
    facts = _decision_facts(conn, run_id, decision)
    return emit(conn, run_id=run_id, event="stop", now=now, step=decision.step, extra=facts, target_ids=targets)


def run_finished(conn: Connection, *, run: dict[str, Any], decision: Callable[[], Decision], now: float) -> list[str]:
    """The run ended well; `decision` gives its latest decision, read only when someone is to be told."""
    targets = _listening(conn, run["id"], "finished")
    if not targets:
        return []
    step, facts = last_step(conn, run["id"]), _decision_facts(conn, run["id"], decision())
    return emit(conn, run_id=run["id"], event="finished", now=now, step=step, extra=facts, target_ids=targets)


def test_message(conn: Connection, *, project_id: int, target_ids: list[int], now: float) -> list[str]:
    """A message that says only that the target works; it names no run."""
    project = conn.scalar(select(Project.name).where(Project.id == project_id))
    facts = {"project": project, "run_id": None, "run_name": None, "step": None, "path": "/", "time": now}
    return _queue(conn, target_ids=target_ids, run_id=None, event=TEST, facts=facts, now=now)


# -- the worker's side ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    id: str
    target_id: int
    kind: str
    url: str
    lang: str
    run_id: str | None
    event: str
    facts: dict[str, Any]
    attempts: int
    created_at: float
    lease_owner: str | None
    lease_until: float | None

    def leased_elsewhere(self, *, owner: str, now: float) -> bool:
        return self.lease_owner not in (None, owner) and (self.lease_until or 0) >= now


def due(conn: Connection, *, now: float, limit: int) -> list[Message]:
    """Pending messages whose time has come, leased or not (the caller judges a lease's holder)."""
    t, g = OutboxMessage, NotificationTarget
    rows = conn.execute(
        select(
            t.id,
            t.target_id,
            g.kind,
            g.url,
            g.lang,
            t.run_id,
            t.event,
            t.facts,
            t.attempts,
            t.created_at,
            t.lease_owner,
            t.lease_until,
        )
        .join(g, g.id == t.target_id)
        .where(t.status == PENDING, t.next_attempt_at <= now)
        .order_by(t.next_attempt_at, t.created_at)
        .limit(limit)
    ).all()
    return [
        Message(
            r.id,
            r.target_id,
            r.kind,
            r.url,
            r.lang,
            r.run_id,
            r.event,
            r.facts or {},
            r.attempts,
            r.created_at,
            r.lease_owner,
            r.lease_until,
        )
        for r in rows
    ]


def claim(engine: Engine, *, message: Message, owner: str, lease_seconds: float, holder_dead: bool) -> bool:
    """Compare-and-set the lease: taken only if nobody took it since `message` was read (or its holder died)."""
    now = time.time()
    t = OutboxMessage
    free = or_(t.lease_owner.is_(None), t.lease_until < now)
    if message.lease_owner is not None and holder_dead:
        free = or_(free, t.lease_owner == message.lease_owner)
    with writer(engine).begin() as conn:
        done = conn.execute(
            update(t)
            .where(and_(t.id == message.id, t.status == PENDING, free))
            .values(lease_owner=owner, lease_until=now + lease_seconds)
        ).rowcount
        return bool(done)


def recently_sent(conn: Connection, *, message: Message, since: float) -> bool:
    """Whether an alike message (same target, run and event) was delivered after `since`: the cooldown."""
    if message.run_id is None:
        return False
    t = OutboxMessage
    found = conn.scalar(
        select(t.id)
        .where(
            t.target_id == message.target_id,
            t.run_id == message.run_id,
            t.event == message.event,
            t.status == DONE,
            t.delivered_at > since,
            t.id != message.id,
        )
        .limit(1)
    )
    return found is not None


def finish(engine: Engine, *, message_id: str, owner: str, status: str, note: str | None = None) -> bool:
    """Mark delivered (or skipped), only while `owner` still holds the lease."""
    now = time.time()
    t = OutboxMessage
    values: dict[str, Any] = {"status": status, "delivered_at": now, "lease_owner": None, "lease_until": None}
    if note is not None:
        values["last_error"] = note  # else the last failed attempt's error stays, for the record
    with writer(engine).begin() as conn:
        done = conn.execute(
            update(t).where(t.id == message_id, t.lease_owner == owner, t.status == PENDING).values(**values)
        ).rowcount
        return bool(done)


def fail(
    engine: Engine,
    *,
    message_id: str,
    owner: str,
    error: str,
    retry: bool,
    base_delay: float,
    max_delay: float,
    max_attempts: int,
) -> float | None:
    """Record a failed attempt; back off exponentially, or give up. Returns the delay, None when given up."""
    now = time.time()
    t = OutboxMessage
    with writer(engine).begin() as conn:
        attempts = conn.scalar(select(t.attempts).where(t.id == message_id, t.lease_owner == owner))
        if attempts is None:
            return None
        attempts += 1
        give_up = not retry or attempts >= max_attempts
        delay = min(base_delay * 2 ** min(attempts - 1, 20), max_delay)
        conn.execute(
            update(t)
            .where(t.id == message_id, t.lease_owner == owner)
            .values(
                attempts=attempts,
                status=FAILED if give_up else PENDING,
                next_attempt_at=now + delay,
                last_error=error[:2000],
                lease_owner=None,
                lease_until=None,
            )
        )
        return None if give_up else delay


def release(engine: Engine, *, owner: str) -> None:
    t = OutboxMessage
    with writer(engine).begin() as conn:
        conn.execute(update(t).where(t.lease_owner == owner).values(lease_owner=None, lease_until=None))


def messages(conn: Connection, *, project_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """The project's latest messages and how their delivery went, newest first (for people, not the worker)."""
    t, g = OutboxMessage, NotificationTarget
    rows = conn.execute(
        select(t.id, t.target_id, t.run_id, t.event, t.status, t.attempts, t.last_error, t.created_at, t.delivered_at)
        .join(g, g.id == t.target_id)
        .where(g.project_id == project_id)
        .order_by(t.created_at.desc())
        .limit(limit)
    ).all()
    return [dict(r._mapping) for r in rows]
