"""Store functions for mirror cursors and their leases.

A cursor row per (run, target) holds the target's progress (`state`, opaque to this module), the run
version it fully reflects, and a lease. Leases are conditional UPDATEs, so the database decides who
holds a run's mirror; a lease whose holder died on this host (pid gone) is void at once.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Text, cast, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from losswatch.monitor.db import writer
from losswatch.monitor.models import DecisionRow, MetricKey, MetricSummary, MirrorCursor, Project, Run, StopState

MAX_BACKOFF = 300.0
HOST = socket.gethostname()


@dataclass(frozen=True)
class RunInfo:
    """What the worker knows of a run when it decides what to mirror."""

    id: str
    project: str
    name: str
    status: str
    config: dict[str, Any]
    targets: tuple[str, ...]
    version: str
    changed_at: float | None


def new_owner() -> str:
    return f"{HOST}/{os.getpid()}/{os.urandom(4).hex()}"


def effective_targets(mirrors: list[Any] | None, default: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(mirrors or default))


def _version_columns():  # type: ignore[no-untyped-def]
    # Everything that can change what a mirror shows: points and rewinds move the policy state's
    # timestamp, a person's stop adds a decision, PATCH changes the status.
    changed = select(StopState.updated_at).where(StopState.run_id == Run.id).scalar_subquery()
    last_decision = select(func.max(DecisionRow.id)).where(DecisionRow.run_id == Run.id).scalar_subquery()
    return changed.label("changed_at"), last_decision.label("last_decision")


def version_of(changed_at: float | None, last_decision: int | None, status: str) -> str:
    return f"{changed_at!r}|{last_decision}|{status}"


def runs_to_mirror(conn: Connection, *, default: list[str]) -> list[RunInfo]:
    changed, last_decision = _version_columns()
    q = select(Run.id, Run.name, Run.status, Run.mirrors, Project.name.label("project"), changed, last_decision).join(
        Project, Project.id == Run.project_id
    )
    if not default:
        # Only runs that name a mirror can have one: the worker's idle pass (every mirror_poll_seconds) then
        # costs nothing per run that has none. Any other spelling of "none" is dropped below, as before.
        q = q.where(cast(Run.mirrors, Text).not_in(["[]", "null"]))
    rows = conn.execute(q).all()
    mirrored = [(r, targets) for r in rows if (targets := effective_targets(r.mirrors, default))]
    # Configs only for the runs that are mirrored: this runs every poll.
    configs: dict[str, Any] = {}
    ids = [r.id for r, _ in mirrored]
    for i in range(0, len(ids), 500):
        configs.update(conn.execute(select(Run.id, Run.config).where(Run.id.in_(ids[i : i + 500]))).all())
    return [
        RunInfo(
            r.id,
            r.project,
            r.name,
            r.status,
            configs.get(r.id) or {},
            targets,
            version_of(r.changed_at, r.last_decision, r.status),
            r.changed_at,
        )
        for r, targets in mirrored
    ]


def cursors(conn: Connection, *, run_id: str | None = None) -> dict[tuple[str, str], Any]:
    q = select(MirrorCursor.__table__)
    if run_id is not None:
        q = q.where(MirrorCursor.run_id == run_id)
    return {(r.run_id, r.target): r for r in conn.execute(q)}


def _pid_dead(owner: str | None) -> bool:
    """A lease held by a process of this host that no longer exists (a crash, a kill -9) is void."""
    host, _, rest = (owner or "").partition("/")
    if host != HOST:
        return False
    try:
        os.kill(int(rest.partition("/")[0]), 0)
    except ProcessLookupError:
        return True
    except (ValueError, PermissionError, OSError):
        return False
    return False


def acquire(engine: Engine, *, run_id: str, target: str, owner: str, lease_seconds: float) -> bool:
    """Take or renew the lease on (run, target); False when another live worker holds it."""
    now = time.time()
    try:
        return _acquire(engine, run_id=run_id, target=target, owner=owner, lease_seconds=lease_seconds, now=now)
    except IntegrityError:
        # Two workers saw no cursor row and both inserted one (FOR UPDATE locks no row that is not there yet):
        # the other one has it.
        return False


def _acquire(engine: Engine, *, run_id: str, target: str, owner: str, lease_seconds: float, now: float) -> bool:
    t = MirrorCursor.__table__
    with writer(engine).begin() as conn:
        row = conn.execute(
            select(t.c.lease_owner, t.c.lease_until).where(t.c.run_id == run_id, t.c.target == target).with_for_update()
        ).first()
        if row is None:
            if conn.scalar(select(Run.id).where(Run.id == run_id)) is None:
                return False
            conn.execute(
                t.insert().values(
                    run_id=run_id,
                    target=target,
                    state={},
                    errors=0,
                    lease_owner=owner,
                    lease_until=now + lease_seconds,
                    updated_at=now,
                )
            )
            return True
        free = or_(t.c.lease_owner.is_(None), t.c.lease_owner == owner, t.c.lease_until < now)
        if row.lease_owner not in (None, owner) and _pid_dead(row.lease_owner):
            free = or_(free, t.c.lease_owner == row.lease_owner)
        done = conn.execute(
            update(t)
            .where(t.c.run_id == run_id, t.c.target == target, free)
            .values(lease_owner=owner, lease_until=now + lease_seconds)
        ).rowcount
        return bool(done)


def advance(
    engine: Engine,
    *,
    run_id: str,
    target: str,
    owner: str,
    state: dict[str, Any],
    last_step: int | None,
    version: str | None,
    lease_seconds: float,
) -> bool:
    """Store the new progress, only while `owner` still holds the lease; clears the error streak."""
    now = time.time()
    t = MirrorCursor.__table__
    with writer(engine).begin() as conn:
        done = conn.execute(
            update(t)
            .where(t.c.run_id == run_id, t.c.target == target, t.c.lease_owner == owner)
            .values(
                state=state,
                last_step=last_step,
                version=version,
                last_error=None,
                errors=0,
                retry_at=None,
                lease_until=now + lease_seconds,
                updated_at=now,
            )
        ).rowcount
        return bool(done)


def fail(engine: Engine, *, run_id: str, target: str, owner: str, error: str, base_delay: float) -> float:
    """Record a failure and back off exponentially; the lease is given up so others may try."""
    now = time.time()
    t = MirrorCursor.__table__
    with writer(engine).begin() as conn:
        errors = conn.scalar(select(t.c.errors).where(t.c.run_id == run_id, t.c.target == target)) or 0
        delay = min(base_delay * 2 ** min(errors, 16), MAX_BACKOFF)
        conn.execute(
            update(t)
            .where(t.c.run_id == run_id, t.c.target == target)
            .values(
                last_error=error[:2000],
                errors=errors + 1,
                retry_at=now + delay,
                lease_owner=None,
                lease_until=None,
                updated_at=now,
            )
        )
        return delay


def release(engine: Engine, *, owner: str) -> None:
    t = MirrorCursor.__table__
    with writer(engine).begin() as conn:
        conn.execute(update(t).where(t.c.lease_owner == owner).values(lease_owner=None, lease_until=None))


def mirror_state(conn: Connection, *, run: dict[str, Any], default: list[str]) -> list[dict[str, Any]]:
    """Each mirror of a run: its target, the last step it holds, the lag behind the run, its last error."""
    run_last = conn.scalar(
        select(func.max(MetricSummary.last_step))
        .join(MetricKey, MetricKey.id == MetricSummary.key_id)
        .where(MetricKey.run_id == run["id"])
    )
    changed, last_decision = _version_columns()
    row = conn.execute(select(changed, last_decision).where(Run.id == run["id"])).one()
    version = version_of(row.changed_at, row.last_decision, run["status"])
    rows = cursors(conn, run_id=run["id"])
    out = []
    for target in effective_targets(run.get("mirrors"), default):
        c = rows.get((run["id"], target))
        last = c.last_step if c is not None else None
        # In steps: how far the run's newest point is ahead of the newest step the target holds.
        lag = None if run_last is None else max(0, run_last - (last if last is not None else 0))
        out.append(
            {
                "target": target,
                "last_step": last,
                "lag": lag,
                "in_sync": c is not None and c.version == version,
                "last_error": c.last_error if c is not None else None,
                "errors": c.errors if c is not None else 0,
                "retry_at": c.retry_at if c is not None else None,
                "updated_at": c.updated_at if c is not None else None,
                "note": (c.state or {}).get("note") if c is not None else None,
            }
        )
    return out


def due(info: RunInfo, target: str, cursor: Any, *, owner: str, now: float) -> bool:
    """Whether (run, target) has work: not yet at the run's version, not backing off, not leased elsewhere."""
    if cursor is None:
        return True
    if cursor.version == info.version:
        return False
    if cursor.retry_at is not None and cursor.retry_at > now:
        return False
    return cursor.lease_owner in (None, owner) or (cursor.lease_until or 0) < now or _pid_dead(cursor.lease_owner)


__all__ = [
    "RunInfo",
    "acquire",
    "advance",
    "cursors",
    "due",
    "fail",
    "mirror_state",
    "new_owner",
    "release",
    "runs_to_mirror",
]
