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

import hashlib
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, select

from losswatch.monitor import policy, rules, stop_state, stopping
from losswatch.monitor.judgement import rule
from losswatch.monitor.models import StopSnapshot
from losswatch.monitor.stopping import Stopper, StopState

# A replay from the latest snapshot costs at most this many checks more than one from the changed step.
EVERY = 8
# Only the latest snapshots are kept: each holds the rule's readings so far (O(evaluations)), and a rewrite
# reaches back to the last checkpoint, rarely hundreds of evaluations. Older history replays from the start.
KEEP = 32


def _code_digest() -> str:
    """The source of everything that decides what a state holds: the policy, the engine and its rules."""
    h = hashlib.sha256()
    sources = [Path(m.__file__ or "") for m in (policy, rules, stop_state, stopping)]
    sources += sorted(Path(rule.__file__ or "").parent.glob("*.py"))
    for path in sources:
        h.update(path.name.encode())
        h.update(path.read_bytes() if path.is_file() else b"")
    return h.hexdigest()


# A snapshot is only as good as the policy, plan and code that computed it. A run's policy and plan change only
# when a resume brings its own (`decisions.rejudge` replays the run then), but the defaults a run without its own
# policy takes, and the rules' arithmetic, change between releases: a snapshot from another release is not
# used, and the replay goes back to the run's start as it used to.
CODE = _code_digest()


def basis(stopper: Stopper) -> str:
    """What a snapshot was computed under: the effective policy, the run's plan, this release's rules."""
    spec = f"{stopper.policy.model_dump_json()}\n{stopper.schedule!r}\n{CODE}"
    return hashlib.sha256(spec.encode()).hexdigest()[:32]


def latest(conn: Connection, *, run_id: str, before: int, under: str) -> tuple[int, StopState] | None:
    """The latest snapshot at a step before `before` computed under the basis `under`, or None."""
    t = StopSnapshot.__table__
    row = conn.execute(
        select(t.c.step, t.c.state)
        .where(t.c.run_id == run_id, t.c.step < before, t.c.basis == under)
        .order_by(t.c.step.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return int(row.step), StopState.from_dict(row.state)


def keep(conn: Connection, *, run_id: str, taken: list[tuple[int, dict[str, Any]]], under: str) -> None:
    """Store the snapshots a replay or new points took, then drop all but the latest KEEP."""
    if not taken:
        return
    t = StopSnapshot.__table__
    # A replay from further back than its caller forgot (from the start) supersedes what it passes, and
    # snapshots of another basis will never be used.
    conn.execute(delete(t).where(t.c.run_id == run_id, (t.c.step >= taken[0][0]) | (t.c.basis != under)))
    rows = [{"run_id": run_id, "step": step, "basis": under, "state": state} for step, state in taken]
    conn.execute(t.insert(), rows)
    cutoff = conn.scalar(
        select(t.c.step).where(t.c.run_id == run_id).order_by(t.c.step.desc()).offset(KEEP - 1).limit(1)
    )
    if cutoff is not None:
        conn.execute(delete(t).where(t.c.run_id == run_id, t.c.step < cutoff))


def forget(conn: Connection, *, run_id: str, since: int) -> None:
    """Points at `since` or later changed: the snapshots from there on no longer hold."""
    t = StopSnapshot.__table__
    conn.execute(delete(t).where(t.c.run_id == run_id, t.c.step >= since))
