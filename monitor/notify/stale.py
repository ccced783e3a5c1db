"""Finding runs whose process died: `running`, and nothing (point or heartbeat) for `stale_after` seconds.

The status is never stored (it is read from `last_seen_at`); what is stored is the mark that this
silence was reported, keyed by the last-seen time, in the same transaction as the `stale` event. So
a silence is reported once, whichever worker finds it first, and the next silence after a point is a
new one.
"""

from __future__ import annotations

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from losswatch.monitor.db import writer
from losswatch.monitor.models import NotificationMark, Run
from losswatch.monitor.notify import outbox

EVENT = "stale"


def _silent_runs(engine: Engine, *, cutoff: float) -> list[tuple[str, float]]:
    seen = func.coalesce(Run.last_seen_at, Run.created_at)
    with engine.connect() as conn:
        rows = conn.execute(
            select(Run.id, seen.label("seen"), NotificationMark.value)
            .outerjoin(NotificationMark, (NotificationMark.run_id == Run.id) & (NotificationMark.event == EVENT))
            .where(Run.status == "running", seen < cutoff)
        ).all()
    return [(r.id, float(r.seen)) for r in rows if r.value != repr(float(r.seen))]


def scan(engine: Engine, *, now: float, stale_after: float) -> list[str]:
    """Report every run that has newly gone silent; returns their ids."""
    reported = []
    for run_id, _ in _silent_runs(engine, cutoff=now - stale_after):
        try:
            if _report(engine, run_id=run_id, now=now, stale_after=stale_after):
                reported.append(run_id)
        except IntegrityError:
            continue  # another worker reported it at the same moment
    return reported


def _report(engine: Engine, *, run_id: str, now: float, stale_after: float) -> bool:
    with writer(engine).begin() as conn:
        # The run row serialises this with ingest and with other workers (PostgreSQL; SQLite's write lock).
        row = conn.execute(
            select(Run.status, func.coalesce(Run.last_seen_at, Run.created_at).label("seen"))
            .where(Run.id == run_id)
            .with_for_update()
        ).first()
        if row is None or row.status != "running" or row.seen >= now - stale_after:
            return False
        key = repr(float(row.seen))
        t = NotificationMark
        mark = conn.execute(select(t.value).where(t.run_id == run_id, t.event == EVENT)).first()
        if mark is not None and mark.value == key:
            return False
        if mark is None:
            conn.execute(insert(t).values(run_id=run_id, event=EVENT, value=key, at=now))
        else:
            conn.execute(update(t).where(t.run_id == run_id, t.event == EVENT).values(value=key, at=now))
        step = outbox.last_step(conn, run_id)
        outbox.emit(
            conn,
            run_id=run_id,
            event=EVENT,
            now=now,
            step=step,
            extra={"silent_seconds": now - float(row.seen), "last_seen_at": float(row.seen)},
        )
        return True
