"""What the mirrors read: a run's points past a cursor, prefix digests, decisions, in one snapshot."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, select

from losswatch.monitor.models import DecisionRow, MetricKey, MetricPoint
from losswatch.monitor.store.values import decode


@dataclass(frozen=True)
class Point:
    step: int
    value: float
    wall_time: float


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """One read transaction: under SQLite WAL a BEGIN reads one snapshot; PostgreSQL needs REPEATABLE READ."""
    with engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def keys(conn: Connection, run_id: str) -> dict[str, int]:
    rows = conn.execute(select(MetricKey.name, MetricKey.id).where(MetricKey.run_id == run_id)).all()
    return {r.name: r.id for r in rows}


def digest(conn: Connection, key_id: int, upto: int) -> list[float]:
    """[count, sum of values, sum of flags, sum of times] of a key's points up to `upto`: what a mirror
    compares to learn whether history it already wrote was overwritten or rewound since."""
    t = MetricPoint.__table__
    row = conn.execute(
        select(
            func.count(), func.sum(func.coalesce(t.c.value, 0.0)), func.sum(t.c.flag), func.sum(t.c.wall_time)
        ).where(t.c.key_id == key_id, t.c.step <= upto)
    ).one()
    return [float(row[0] or 0), float(row[1] or 0.0), float(row[2] or 0), float(row[3] or 0.0)]


def fold(d: list[float], pts: list[Point], flags: list[int]) -> list[float]:
    n, v, f, t = d
    for p, fl in zip(pts, flags, strict=True):
        n, v, f, t = n + 1, v + (p.value if math.isfinite(p.value) else 0.0), f + fl, t + p.wall_time
    return [n, v, f, t]


def same(a: list[float], b: list[float]) -> bool:
    # Float sums differ in their last bits by summation order (SQLite sums with compensation), so the
    # counts must match exactly and the sums closely; a changed value moves its sum far more than that.
    return (
        a[0] == b[0]
        and a[2] == b[2]
        and math.isclose(a[1], b[1], rel_tol=1e-12, abs_tol=1e-9)
        and math.isclose(a[3], b[3], rel_tol=1e-13, abs_tol=1e-6)
    )


def points(conn: Connection, key_id: int, *, after: int | None = None) -> tuple[list[Point], list[int]]:
    t = MetricPoint.__table__
    q = select(t.c.step, t.c.value, t.c.flag, t.c.wall_time).where(t.c.key_id == key_id)
    if after is not None:
        q = q.where(t.c.step > after)
    rows = conn.execute(q.order_by(t.c.step)).all()
    return [Point(r.step, decode(r.value, r.flag), r.wall_time) for r in rows], [r.flag for r in rows]


def decisions(conn: Connection, run_id: str, *, after_id: int = 0) -> list[dict]:
    rows = conn.execute(
        select(
            DecisionRow.id,
            DecisionRow.step,
            DecisionRow.should_stop,
            DecisionRow.reason,
            DecisionRow.message,
            DecisionRow.created_at,
        )
        .where(DecisionRow.run_id == run_id, DecisionRow.id > after_id)
        .order_by(DecisionRow.id)
    )
    return [dict(r._mapping) for r in rows]
