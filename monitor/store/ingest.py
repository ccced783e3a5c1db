"""Storing a batch of points: one transaction, summaries and the decision updated inside it."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, select, update

from monitor.db import writer
from monitor.errors import LimitExceeded
from monitor.models import IngestBatch, MetricKey, MetricPoint, Run
from monitor.policy import Decision
from monitor.store import decisions, summaries
from monitor.store.runs import get_run
from monitor.store.values import PointIn, encode

IN_CHUNK = 500


@dataclass
class IngestResult:
    accepted: int
    duplicates: int
    overwritten: int
    decision: Decision


def ingest(engine: Engine, *, run_id: str, points: list[PointIn], batch_id: str | None = None,
           max_keys_per_run: int = 1000) -> IngestResult:
    now = time.time()
    with writer(engine).begin() as conn:
        # The run row is the per-run lock on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises.
        conn.execute(select(Run.id).where(Run.id == run_id).with_for_update()).first()
        run = get_run(conn, run_id=run_id)
        if batch_id is not None:
            seen = conn.scalar(select(IngestBatch.points).where(IngestBatch.run_id == run_id,
                                                                IngestBatch.batch_id == batch_id))
            if seen is not None:
                return IngestResult(0, len(points), 0, decisions.current(conn, run))
            conn.execute(IngestBatch.__table__.insert().values(
                run_id=run_id, batch_id=batch_id, points=len(points), created_at=now))

        latest: dict[tuple[str, int], PointIn] = {}
        for p in points:
            latest[(p.key, p.step)] = p
        by_key: dict[str, list[PointIn]] = defaultdict(list)
        for (key, _), p in latest.items():
            by_key[key].append(p)
        key_ids = ensure_keys(conn, run_id=run_id, names=list(by_key), limit=max_keys_per_run)

        accepted = overwritten = 0
        duplicates = len(points) - len(latest)
        changed: dict[str, list[tuple[int, float]]] = {}
        for key, pts in by_key.items():
            pts.sort(key=lambda p: p.step)
            a, d, o, ch = _store_key(conn, key_ids[key], pts, now)
            accepted, duplicates, overwritten = accepted + a, duplicates + d, overwritten + o
            if ch:
                changed[key] = ch
        decision = decisions.advance(conn, run, changed)
        return IngestResult(accepted, duplicates, overwritten, decision)


def ensure_keys(conn: Connection, *, run_id: str, names: list[str], limit: int) -> dict[str, int]:
    rows = conn.execute(select(MetricKey.name, MetricKey.id).where(MetricKey.run_id == run_id)).all()
    ids = {r.name: r.id for r in rows}
    missing = [n for n in names if n not in ids]
    if missing and len(ids) + len(missing) > limit:
        raise LimitExceeded(f"a run may have at most {limit} metric keys (max_keys_per_run); this batch "
                            f"would bring it to {len(ids) + len(missing)}")
    for name in missing:
        ids[name] = conn.execute(MetricKey.__table__.insert().values(run_id=run_id, name=name)).inserted_primary_key[0]
    return ids


def _store_key(conn: Connection, key_id: int, pts: list[PointIn], now: float
               ) -> tuple[int, int, int, list[tuple[int, float]]]:
    summary = summaries.load(conn, key_id)
    existing: dict[int, tuple[float | None, int]] = {}
    if summary is not None and summary["last_step"] is not None and pts[0].step <= summary["last_step"]:
        existing = _existing(conn, key_id, [p.step for p in pts if p.step <= summary["last_step"]])
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    duplicates = 0
    changed: list[tuple[int, float]] = []
    for p in pts:
        value, flag = encode(p.value)
        old = existing.get(p.step)
        row = {"key_id": key_id, "step": p.step, "value": value, "flag": flag,
               "wall_time": p.time if p.time is not None else now}
        if old is None:
            inserts.append(row)
        elif old == (value, flag):
            duplicates += 1
            continue
        else:
            updates.append({"k": key_id, "s": p.step, "v": value, "f": flag, "t": row["wall_time"]})
        changed.append((p.step, p.value))
    if inserts:
        conn.execute(MetricPoint.__table__.insert(), inserts)
    if updates:
        t = MetricPoint.__table__
        stmt = (update(t).where(and_(t.c.key_id == bindparam("k"), t.c.step == bindparam("s")))
                .values(value=bindparam("v"), flag=bindparam("f"), wall_time=bindparam("t")))
        conn.execute(stmt, updates)
    if updates:
        summaries.recompute(conn, key_id)
    elif inserts:
        summaries.add(conn, key_id, summary, inserts)
    return len(inserts), duplicates, len(updates), changed


def _existing(conn: Connection, key_id: int, steps: list[int]) -> dict[int, tuple[float | None, int]]:
    out: dict[int, tuple[float | None, int]] = {}
    t = MetricPoint.__table__
    for i in range(0, len(steps), IN_CHUNK):
        chunk = steps[i: i + IN_CHUNK]
        rows = conn.execute(select(t.c.step, t.c.value, t.c.flag)
                            .where(t.c.key_id == key_id, t.c.step.in_(chunk))).all()
        out.update({r.step: (r.value, r.flag) for r in rows})
    return out
