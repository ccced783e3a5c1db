"""Storing a batch of points: one transaction, summaries and the decision updated inside it.

The batch arrives as arrays per key (monitor/store/columns.py), whichever wire form it came in; each key
costs a handful of numpy passes and one bulk write, not a Python step per point.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine

from losswatch.monitor.budget import RESCAN_MS_PER_POINT, afford, batch_ms
from losswatch.monitor.db import bulk_writer, inserted_id
from losswatch.monitor.errors import Deferred, Invalid, LimitExceeded, NotFound
from losswatch.monitor.models import FLAG_FINITE, MetricKey
from losswatch.monitor.policy import Decision
from losswatch.monitor.store import bulk, decisions, driver, summaries
from losswatch.monitor.store.columns import Columns, combine, dedupe, digest, flags_of, from_points
from losswatch.monitor.store.runs import touch
from losswatch.monitor.store.values import PointLike


@dataclass
class IngestResult:
    accepted: int
    duplicates: int
    overwritten: int
    decision: Decision


def ingest(
    engine: Engine,
    *,
    run_id: str,
    points: Sequence[PointLike] = (),
    series: Sequence[Columns] = (),
    batch_id: str | None = None,
    max_keys_per_run: int = 1000,
    max_check_ms: float | None = None,
    defer_ms: float | None = None,
) -> IngestResult:
    """Store `points` (row form) and `series` (columnar) as one batch. Where both give the same (key, step),
    the series wins, as a later point in the same list would: last write wins inside a batch too.

    `max_check_ms`: the stopping work this batch may cost (monitor/budget.py); beyond it the batch is
    refused before anything is written, since on SQLite every other writer waits for it.

    `defer_ms`: what a caller that must not be held long (the event loop) may spend; a batch estimated to cost
    more raises Deferred before anything is committed."""
    now = time.time()
    parts = [*from_points(points), *series] if points else list(series)
    total = sum(c.size for c in parts)
    with bulk_writer(engine).begin() as conn:
        run = _lock_run(conn, run_id)
        touch(conn, run_id=run_id, now=now)  # a stale run is running again
        keyed = [dedupe(c) for c in combine(parts)]
        if batch_id is not None:
            # The digest is of what the batch does (each key's points after last-wins, keys in order), so a
            # retry that lists the same points in another order is still the same batch.
            held = digest(sorted((c for c, _, _ in keyed), key=lambda c: c.key))
            if not _claim(conn, run_id, batch_id, total, held, now):
                return IngestResult(0, total, 0, decisions.current(conn, run))
        policy = decisions.policy_of(run)
        checks = next((c.size for c, _, _ in keyed if c.key == policy.monitor), 0)
        afford(policy, checks, budget_ms=max_check_ms, what="this batch")
        if defer_ms is not None and batch_ms(policy, checks, total) > defer_ms:
            raise Deferred(f"{checks} checks under rule {policy.rule!r} and {total} points: beyond {defer_ms} ms")
        known = keys_and_summaries(conn, run_id=run_id, names=[c.key for c, _, _ in keyed], limit=max_keys_per_run)
        if defer_ms is not None:
            _defer_rescans(keyed, known, defer_ms)
        accepted = overwritten = duplicates = 0
        changed: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        stored_last: dict[str, int | None] = {}
        for unique, same, replaced in keyed:
            key_id, summary = known[unique.key]
            stored_last[unique.key] = summary["last_step"] if summary is not None else None
            a, d, o, ch = _store_key(conn, key_id, summary, unique, now)
            accepted, duplicates, overwritten = accepted + a, duplicates + d + same, overwritten + o + replaced
            if ch is not None:
                changed[unique.key] = ch
        decision = decisions.advance(conn, run, changed, stored_last=stored_last, defer=defer_ms is not None)
        return IngestResult(accepted, duplicates, overwritten, decision)


def _defer_rescans(
    keyed: list[tuple[Columns, int, int]], known: dict[str, tuple[int, dict[str, Any] | None]], defer_ms: float
) -> None:
    """Deferred when a point lands at or before its key's last stored step on a key long enough that reading its
    extremes again (after an overwrite) would cost more than `defer_ms`: a 1-point overwrite of a 1M-point key held
    the event loop for 390 ms."""
    for unique, _, _ in keyed:
        summary = known[unique.key][1]
        if summary is None or summary["last_step"] is None or unique.steps[0] > summary["last_step"]:
            # No points (a rewind may have emptied the key): nothing stored can be overwritten.
            continue
        if summary["count"] * RESCAN_MS_PER_POINT > defer_ms:
            raise Deferred(f"{unique.key!r} may be rescanned ({summary['count']} points): beyond {defer_ms} ms")


# The per-batch statements run straight on the driver (monitor/store/driver.py): each costs a fraction of
# what SQLAlchemy's execution machinery adds around it, and every batch runs them whatever its size.
_RUN = "SELECT id, early_stopping, stop_requested, config FROM runs WHERE id = ?"
_CLAIM = (
    "INSERT INTO ingest_batches (run_id, batch_id, points, digest, created_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (run_id, batch_id) DO NOTHING"
)
_CLAIMED = "SELECT digest, points FROM ingest_batches WHERE run_id = ? AND batch_id = ?"
_KEY_COUNT = "SELECT COUNT(*) FROM metric_keys WHERE run_id = ?"


def _lock_run(conn: Connection, run_id: str) -> dict[str, Any]:
    """What the decision needs of the run (its policy, a person's stop, its plan), read under the run's lock: on
    PostgreSQL the row lock serialises a run's batches; SQLite's BEGIN IMMEDIATE already has."""
    lock = " FOR UPDATE" if conn.dialect.name == "postgresql" else ""
    row = driver.fetchone(conn, _RUN + lock, (run_id,))
    if row is None:
        raise NotFound(f"no run with id {run_id!r}")
    return {
        "id": row[0],
        "early_stopping": driver.json_value(row[1]),
        "stop_requested": row[2],
        "config": driver.json_value(row[3]),
    }


def _claim(conn: Connection, run_id: str, batch_id: str, points: int, held: str, now: float) -> bool:
    """Record the batch id with what the batch holds; False when it was already there with the same content
    (a retried batch, which changes nothing). The same id over other points is a client's mistake that would
    otherwise lose those points without a word: refused (a batch claimed before digests were kept passes)."""
    if driver.execute(conn, _CLAIM, (run_id, batch_id, points, held, now)).rowcount == 1:
        return True
    before, count = driver.fetchone(conn, _CLAIMED, (run_id, batch_id))
    if before is not None and before != held:
        # 422, not 409: a client retries a conflict (a run id being created elsewhere), and no retry fixes this.
        raise Invalid(
            f"batch_id {batch_id!r} was already used for a different batch ({count} points) of this run; a retry "
            "must send the same points, and new points need a new batch_id"
        )
    return False


def keys_and_summaries(
    conn: Connection, *, run_id: str, names: list[str], limit: int
) -> dict[str, tuple[int, dict[str, Any] | None]]:
    """Each named key's id and summary (None for a key without points), creating the keys that are new."""
    if not names:
        return {}
    marks = ", ".join("?" * len(names))
    rows = driver.fetchall(
        conn,
        f"SELECT k.name, k.id, {summaries.COLUMNS_SQL} FROM metric_keys k "
        f"LEFT JOIN metric_summaries s ON s.key_id = k.id WHERE k.run_id = ? AND k.name IN ({marks})",
        (run_id, *names),
    )
    out = {r[0]: (int(r[1]), summaries.from_row(tuple(r[2:]))) for r in rows}
    missing = [n for n in names if n not in out]
    if missing:
        for name, kid in ensure_keys(conn, run_id=run_id, names=missing, limit=limit).items():
            out[name] = (kid, None)
    return out


def ensure_keys(conn: Connection, *, run_id: str, names: list[str], limit: int) -> dict[str, int]:
    """Create keys the run does not have yet, within its limit on keys."""
    have = int(driver.fetchone(conn, _KEY_COUNT, (run_id,))[0])
    if have + len(names) > limit:
        raise LimitExceeded(
            f"a run may have at most {limit} metric keys (max_keys_per_run); this batch "
            f"would bring it to {have + len(names)}"
        )
    return {
        name: inserted_id(conn.execute(MetricKey.__table__.insert().values(run_id=run_id, name=name))) for name in names
    }


def _store_key(
    conn: Connection, key_id: int, summary: dict[str, Any] | None, c: Columns, now: float
) -> tuple[int, int, int, tuple[np.ndarray, np.ndarray] | None]:
    """Write one key's (sorted, unique) points; returns accepted, duplicates, overwritten and the
    (steps, values) that changed, for the stopping engine."""
    steps, values = c.steps, c.values
    flags = flags_of(values)
    times = c.times
    if np.isnan(times).any():
        times = np.where(np.isnan(times), now, times)
    last_step = summary["last_step"] if summary is not None else None
    new = np.ones(steps.size, dtype=bool)
    same = np.zeros(steps.size, dtype=bool)
    if last_step is not None and steps[0] <= last_step:
        # Only points at or before the key's last step can already be stored.
        upto = int(np.searchsorted(steps, last_step, side="right"))
        old_steps, old_values, old_flags = bulk.existing(conn, key_id, steps[:upto])
        if old_steps.size:
            at = np.searchsorted(steps, old_steps)
            new[at] = False
            # The same value is a duplicate: equal flags, and for finite values equal floats.
            equal = (old_flags == flags[at]) & ((old_flags != FLAG_FINITE) | (old_values == values[at]))
            same[at[equal]] = True
    changed = ~same
    n_new, n_same = int(np.count_nonzero(new)), int(np.count_nonzero(same))
    n_over = steps.size - n_new - n_same
    if n_new == steps.size:
        bulk.insert(conn, key_id, steps, values, flags, times)
    elif n_new:
        bulk.insert(conn, key_id, steps[new], values[new], flags[new], times[new])
    if n_over:
        over = changed & ~new
        bulk.update(conn, key_id, steps[over], values[over], flags[over], times[over])
        summaries.recompute(conn, key_id)
    elif n_new:
        summaries.add(conn, key_id, summary, steps[new], values[new], flags[new])
    if not (n_new or n_over):
        return 0, n_same, 0, None
    if n_same:
        return n_new, n_same, n_over, (steps[changed], values[changed])
    return n_new, n_same, n_over, (steps, values)
