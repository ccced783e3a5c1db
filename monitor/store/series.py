"""Reading a key's points back, and the per-key summaries of a run."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, delete, select

from losswatch.monitor.db import writer
from losswatch.monitor.errors import Invalid, NotFound
from losswatch.monitor.models import FLAG_FINITE, IngestBatch, MetricKey, MetricPoint, MetricSummary, Run
from losswatch.monitor.store import decisions, driver, snapshots, summaries
from losswatch.monitor.store.cache import Entry, SeriesCache
from losswatch.monitor.store.runs import get_run
from losswatch.monitor.store.values import decode, decode_array


@dataclass
class Series:
    steps: np.ndarray
    values: np.ndarray
    times: np.ndarray


def key_id(conn: Connection, *, run_id: str, key: str) -> int:
    kid = conn.scalar(select(MetricKey.id).where(MetricKey.run_id == run_id, MetricKey.name == key))
    if kid is None:
        get_run(conn, run_id=run_id)
        raise NotFound(f"run {run_id!r} has no metric {key!r}")
    return int(kid)


def read_series(
    conn: Connection, *, run_id: str, key: str, since_step: int | None = None, cache: SeriesCache | None = None
) -> Series:
    kid = key_id(conn, run_id=run_id, key=key)
    if cache is None:
        return _fetch(conn, kid, since_step)
    summary = summaries.load(conn, kid) or {"revision": 0, "count": 0}
    entry = cache.get(kid, summary["revision"], summary["count"])
    if entry is None:
        s = _fetch(conn, kid, None)
    else:
        last = int(entry.steps[-1]) if entry.size else -1
        new = _fetch(conn, kid, last)
        s = Series(
            np.concatenate([entry.steps, new.steps]),
            np.concatenate([entry.values, new.values]),
            np.concatenate([entry.times, new.times]),
        )
    cache.put(kid, Entry(summary["revision"], s.steps, s.values, s.times))
    if since_step is not None:
        lo = int(np.searchsorted(s.steps, since_step, side="right"))
        return Series(s.steps[lo:], s.values[lo:], s.times[lo:])
    return s


def _fetch(conn: Connection, kid: int, after: int | None) -> Series:
    # Straight from the driver's cursor into one float array, as plain tuples: numpy probing a million
    # SQLAlchemy rows for an array interface (each miss an exception) took minutes. NULL values are
    # non-finite ones, restored from the flag.
    sql = "SELECT step, COALESCE(value, 0.0), flag, wall_time FROM metric_points WHERE key_id = ?"
    params: tuple[int, ...] = (kid,)
    if after is not None:
        sql += " AND step > ?"
        params = (kid, after)
    rows = driver.fetchall(conn, sql + " ORDER BY step", params)
    if not rows:
        empty = np.empty(0)
        return Series(empty.astype(np.int64), empty, empty)
    arr = np.array(rows, dtype=np.float64)
    return Series(arr[:, 0].astype(np.int64), decode_array(arr[:, 1], arr[:, 2].astype(np.int8)), arr[:, 3])


def key_summaries(conn: Connection, *, run_id: str) -> list[dict[str, Any]]:
    q = (
        select(MetricKey.name, MetricSummary.__table__)
        .join(MetricSummary, MetricSummary.key_id == MetricKey.id)
        .where(MetricKey.run_id == run_id, MetricSummary.count > 0)
        .order_by(MetricKey.name)
    )
    rows = conn.execute(q).all()
    out = []
    for s in rows:
        out.append(
            {
                "key": s.name,
                "count": s.count,
                "first_step": s.first_step,
                "last_step": s.last_step,
                "last": decode(s.last_value, s.last_flag) if s.last_step is not None else None,
                "min": s.min_value,
                "min_step": s.min_step,
                "max": s.max_value,
                "max_step": s.max_step,
                "nonfinite": s.nonfinite,
            }
        )
    return out


def rewind(engine: Engine, *, run_id: str, step: int, rewind_id: str | None = None) -> dict[str, Any]:
    """Delete every point after `step` (a resume from an earlier checkpoint), as TensorBoard purges.

    With a `rewind_id`, doing it again is a no-op (it shares the batch-id ledger with ingest)."""
    with writer(engine).begin() as conn:
        conn.execute(select(Run.id).where(Run.id == run_id).with_for_update()).first()
        run = get_run(conn, run_id=run_id)
        if rewind_id is not None:
            ledger_id = f"rewind:{rewind_id}"
            held = f"step {step}"
            seen = conn.execute(
                select(IngestBatch.points, IngestBatch.digest).where(
                    IngestBatch.run_id == run_id, IngestBatch.batch_id == ledger_id
                )
            ).first()
            if seen is not None:
                if seen.digest is not None and seen.digest != held:
                    # As a batch_id over other points: the same id for another step is a client's mistake that
                    # would otherwise leave the points after that step in place without a word.
                    raise Invalid(
                        f"rewind_id {rewind_id!r} was already used to rewind to {seen.digest}; a retry must send "
                        "the same step, and a new rewind needs a new rewind_id"
                    )
                decision = decisions.current(conn, run)
                return {"deleted": 0, "step": step, "replayed": True, "decision": decision.to_dict()}
            conn.execute(
                IngestBatch.__table__.insert().values(
                    run_id=run_id, batch_id=ledger_id, points=0, digest=held, created_at=time.time()
                )
            )
        kids = conn.execute(select(MetricKey.id).where(MetricKey.run_id == run_id)).scalars().all()
        t = MetricPoint.__table__
        deleted = 0
        for kid in kids:
            n = conn.execute(delete(t).where(t.c.key_id == kid, t.c.step > step)).rowcount
            if n:
                deleted += n
                summaries.recompute(conn, kid)
        stopper = decisions.stopper_of(run)
        snapshots.forget(conn, run_id=run_id, since=step + 1)
        state = decisions.replay_stored(conn, run_id, stopper, since=step + 1)
        decisions.save_state(conn, run_id, state)
        decision = decisions.with_manual(run, stopper.current(state))
        decisions.record(conn, run_id, decision)
        return {"deleted": deleted, "step": step, "replayed": False, "decision": decision.to_dict()}


__all__ = ["FLAG_FINITE", "Series", "key_id", "key_summaries", "read_series", "rewind"]
