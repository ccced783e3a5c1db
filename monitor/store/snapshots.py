"""Snapshots of a run's stopping state along its history, so that rewriting history does not replay it all.

A rewrite of already-judged points (a resumed trainer's rewind, a late point from a second writer, an
overwrite) makes the state that followed them wrong: the policy has to be run again from there. From the
run's first point that costs one check per evaluation (~10 ms each under the forecast rule), held under the
write lock: seconds on a long run, for every late point, while every other writer waits. So the state is
kept every EVERY checks, as points arrive and during a replay, and a replay starts from the latest snapshot
before the first changed step.

A snapshot at step k is the state after every stored point at or before k, fed in step order (the training
loss of a step before its evaluation): `decisions.advance` replays whatever arrives out of that order, so
the live state, and every snapshot of it, is the one a replay from the start gives. A snapshot stays valid
until a point at or before k changes: every such write (`forget`) drops the snapshots from its step on.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, select

from losswatch.monitor.models import StopSnapshot
from losswatch.monitor.stopping import StopState

# A replay from the latest snapshot costs at most this many checks more than one from the changed step.
EVERY = 8
# Only the latest snapshots are kept: each holds the rule's readings so far (O(evaluations)), and a rewrite
# reaches back to the last checkpoint, rarely hundreds of evaluations. Older history replays from the start.
KEEP = 32


def latest(conn: Connection, *, run_id: str, before: int) -> tuple[int, StopState] | None:
    """The latest snapshot at a step before `before`, or None."""
    t = StopSnapshot.__table__
    row = conn.execute(
        select(t.c.step, t.c.state).where(t.c.run_id == run_id, t.c.step < before).order_by(t.c.step.desc()).limit(1)
    ).first()
    if row is None:
        return None
    return int(row.step), StopState.from_dict(row.state)


def keep(conn: Connection, *, run_id: str, taken: list[tuple[int, dict[str, Any]]]) -> None:
    """Store the snapshots a replay took, then drop all but the latest KEEP."""
    if not taken:
        return
    t = StopSnapshot.__table__
    # A replay from further back than its caller forgot (from the start) supersedes what it passes.
    conn.execute(delete(t).where(t.c.run_id == run_id, t.c.step >= taken[0][0]))
    conn.execute(t.insert(), [{"run_id": run_id, "step": step, "state": state} for step, state in taken])
    cutoff = conn.scalar(
        select(t.c.step).where(t.c.run_id == run_id).order_by(t.c.step.desc()).offset(KEEP - 1).limit(1)
    )
    if cutoff is not None:
        conn.execute(delete(t).where(t.c.run_id == run_id, t.c.step < cutoff))


def forget(conn: Connection, *, run_id: str, since: int) -> None:
    """Points at `since` or later changed: the snapshots from there on no longer hold."""
    t = StopSnapshot.__table__
    conn.execute(delete(t).where(t.c.run_id == run_id, t.c.step >= since))
