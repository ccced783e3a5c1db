"""Storing a batch of points: one transaction, summaries and the decision updated inside it."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select

from losswatch.monitor.budget import afford
from losswatch.monitor.db import inserted_id, writer
from losswatch.monitor.errors import LimitExceeded
from losswatch.monitor.models import (
    FLAG_NAN,
    FLAG_NEGINF,
    FLAG_POSINF,
    IngestBatch,
    MetricKey,
    MetricPoint,
    Run,
)
from losswatch.monitor.policy import Decision
from losswatch.monitor.store import decisions, summaries
from losswatch.monitor.store.runs import get_run, touch
from losswatch.monitor.store.values import PointLike, encode

IN_CHUNK = 500
_NONFINITE = {FLAG_NAN: math.nan, FLAG_POSINF: math.inf, FLAG_NEGINF: -math.inf}
Row = tuple[int, int, float | None, int, float]  # key_id, step, value, flag, wall_time


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
    points: Sequence[PointLike],
    batch_id: str | None = None,
    max_keys_per_run: int = 1000,
    max_check_ms: float | None = None,
) -> IngestResult:
    """`max_check_ms`: the stopping work this batch may cost (monitor/budget.py); beyond it the batch is
    refused before anything is written, since on SQLite every other writer waits for it."""
    now = time.time()
    with writer(engine).begin() as conn:
        # The run row is the per-run lock on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises.
        conn.execute(select(Run.id).where(Run.id == run_id).with_for_update()).first()
        run = get_run(conn, run_id=run_id)
        touch(conn, run_id=run_id, now=now)  # a stale run is running again
        if batch_id is not None:
            seen = conn.scalar(
                select(IngestBatch.points).where(IngestBatch.run_id == run_id, IngestBatch.batch_id == batch_id)
            )
            if seen is not None:
                return IngestResult(0, len(points), 0, decisions.current(conn, run))
            conn.execute(
                IngestBatch.__table__.insert().values(
                    run_id=run_id, batch_id=batch_id, points=len(points), created_at=now
                )
            )

        # Last write wins inside a batch, as it would across two batches.
        by_key: dict[str, dict[int, PointLike]] = defaultdict(dict)
        for p in points:
            by_key[p.key][p.step] = p
        unique = sum(len(v) for v in by_key.values())
        policy = decisions.policy_of(run)
        afford(policy, len(by_key.get(policy.monitor, ())), budget_ms=max_check_ms, what="this batch")
        key_ids = ensure_keys(conn, run_id=run_id, names=list(by_key), limit=max_keys_per_run)

        accepted = overwritten = 0
        duplicates = len(points) - unique
        changed: dict[str, list[tuple[int, float]]] = {}
        for key, pts in by_key.items():
            a, d, o, ch = _store_key(conn, key_ids[key], sorted(pts.values(), key=_step), now)
            accepted, duplicates, overwritten = accepted + a, duplicates + d, overwritten + o
            if ch:
                changed[key] = ch
        decision = decisions.advance(conn, run, changed)
        return IngestResult(accepted, duplicates, overwritten, decision)


def _step(p: PointLike) -> int:
    return p.step


def ensure_keys(conn: Connection, *, run_id: str, names: list[str], limit: int) -> dict[str, int]:
    rows = conn.execute(select(MetricKey.name, MetricKey.id).where(MetricKey.run_id == run_id)).all()
    ids = {r.name: r.id for r in rows}
    missing = [n for n in names if n not in ids]
    if missing and len(ids) + len(missing) > limit:
        raise LimitExceeded(
            f"a run may have at most {limit} metric keys (max_keys_per_run); this batch "
            f"would bring it to {len(ids) + len(missing)}"
        )
    for name in missing:
        ids[name] = inserted_id(conn.execute(MetricKey.__table__.insert().values(run_id=run_id, name=name)))
    return ids


def _store_key(
    conn: Connection, key_id: int, pts: list[PointLike], now: float
) -> tuple[int, int, int, list[tuple[int, float]]]:
    summary = summaries.load(conn, key_id)
    existing: dict[int, tuple[float | None, int]] = {}
    last_step = summary["last_step"] if summary is not None else None
    if last_step is not None and pts[0].step <= last_step:
        existing = _existing(conn, key_id, [p.step for p in pts if p.step <= last_step])
    inserts: list[Row] = []
    updates: list[Row] = []
    duplicates = 0
    changed: list[tuple[int, float]] = []
    for p in pts:
        value, flag = encode(p.value)
        row = (key_id, p.step, value, flag, now if p.time is None else p.time)
        old = existing.get(p.step) if existing else None
        if old is None:
            inserts.append(row)
        elif old == (value, flag):
            duplicates += 1
            continue
        else:
            updates.append(row)
        changed.append((p.step, _NONFINITE[flag] if value is None else value))
    ph = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    if inserts:
        # Straight to the driver's executemany: SQLAlchemy's per-row parameter processing would cost
        # more than the insert itself at thousands of points per batch.
        conn.exec_driver_sql(
            f"INSERT INTO metric_points (key_id, step, value, flag, wall_time) VALUES ({ph}, {ph}, {ph}, {ph}, {ph})",
            inserts,
        )
    if updates:
        conn.exec_driver_sql(
            f"UPDATE metric_points SET value = {ph}, flag = {ph}, wall_time = {ph} WHERE key_id = {ph} AND step = {ph}",
            [(v, f, t, k, s) for k, s, v, f, t in updates],
        )
        summaries.recompute(conn, key_id)
    elif inserts:
        summaries.add(conn, key_id, summary, inserts)
    return len(inserts), duplicates, len(updates), changed


def _existing(conn: Connection, key_id: int, steps: list[int]) -> dict[int, tuple[float | None, int]]:
    out: dict[int, tuple[float | None, int]] = {}
    t = MetricPoint.__table__
    for i in range(0, len(steps), IN_CHUNK):
        chunk = steps[i : i + IN_CHUNK]
        rows = conn.execute(
            select(t.c.step, t.c.value, t.c.flag).where(t.c.key_id == key_id, t.c.step.in_(chunk))
        ).all()
        out.update({r.step: (r.value, r.flag) for r in rows})
    return out
