"""Per-key summaries, kept in the same transaction as the points they describe."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, case, func, select, update

from losswatch.monitor.models import FLAG_FINITE, MetricPoint, MetricSummary

FIELDS = (
    "count",
    "first_step",
    "last_step",
    "last_value",
    "last_flag",
    "min_value",
    "min_step",
    "max_value",
    "max_step",
    "nonfinite",
    "revision",
)


def load(conn: Connection, key_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(MetricSummary.__table__).where(MetricSummary.key_id == key_id)).first()
    if row is None:
        return None
    return {f: getattr(row, f) for f in FIELDS}


def _save(conn: Connection, key_id: int, values: dict[str, Any], exists: bool) -> None:
    if exists:
        conn.execute(update(MetricSummary).where(MetricSummary.key_id == key_id).values(**values))
    else:
        conn.execute(MetricSummary.__table__.insert().values(key_id=key_id, **values))


def add(conn: Connection, key_id: int, summary: dict[str, Any] | None, rows: list[tuple]) -> None:
    """Fold newly inserted (key_id, step, value, flag, wall_time) rows in without reading the points table."""
    s: dict[str, Any] = (
        dict(summary)
        if summary
        else {
            "count": 0,
            "first_step": None,
            "last_step": None,
            "last_value": None,
            "last_flag": FLAG_FINITE,
            "min_value": None,
            "min_step": None,
            "max_value": None,
            "max_step": None,
            "nonfinite": 0,
            "revision": 0,
        }
    )
    if s["last_step"] is not None and rows and min(r[1] for r in rows) <= s["last_step"]:
        s["revision"] += 1  # an insert inside the known range: not an append
    # `rows` come sorted by step (ingest sorts each key's points), so the ends are the first and last row.
    s["count"] += len(rows)
    first, last = rows[0], rows[-1]
    if s["first_step"] is None or first[1] < s["first_step"]:
        s["first_step"] = first[1]
    if s["last_step"] is None or last[1] >= s["last_step"]:
        s["last_step"], s["last_value"], s["last_flag"] = last[1], last[2], last[3]
    finite = [r for r in rows if r[3] == FLAG_FINITE]
    s["nonfinite"] += len(rows) - len(finite)
    if finite:
        # min/max return the first extreme, so ties keep the earliest step, as a scan would.
        lo, hi = min(finite, key=_value), max(finite, key=_value)
        if s["min_value"] is None or lo[2] < s["min_value"]:
            s["min_value"], s["min_step"] = lo[2], lo[1]
        if s["max_value"] is None or hi[2] > s["max_value"]:
            s["max_value"], s["max_step"] = hi[2], hi[1]
    _save(conn, key_id, s, summary is not None)


def _value(row: tuple) -> float:
    return row[2]


def recompute(conn: Connection, key_id: int) -> None:
    """After an overwrite or a rewind the extremes may have gone: read them again from the points."""
    t = MetricPoint.__table__
    agg = conn.execute(
        select(
            func.count(), func.min(t.c.step), func.max(t.c.step), func.sum(case((t.c.flag != FLAG_FINITE, 1), else_=0))
        ).where(t.c.key_id == key_id)
    ).one()
    old = load(conn, key_id)
    exists = old is not None
    revision = (old["revision"] if old else 0) + 1
    if not agg[0]:
        # Kept (empty) rather than deleted, so the revision keeps counting up for cached readers.
        _save(
            conn,
            key_id,
            {
                "count": 0,
                "first_step": None,
                "last_step": None,
                "last_value": None,
                "last_flag": FLAG_FINITE,
                "min_value": None,
                "min_step": None,
                "max_value": None,
                "max_step": None,
                "nonfinite": 0,
                "revision": revision,
            },
            exists,
        )
        return
    last = conn.execute(select(t.c.value, t.c.flag).where(t.c.key_id == key_id, t.c.step == agg[2])).one()
    finite = (t.c.key_id == key_id) & (t.c.flag == FLAG_FINITE)
    lo = conn.execute(select(t.c.value, t.c.step).where(finite).order_by(t.c.value, t.c.step).limit(1)).first()
    hi = conn.execute(select(t.c.value, t.c.step).where(finite).order_by(t.c.value.desc(), t.c.step).limit(1)).first()
    _save(
        conn,
        key_id,
        {
            "count": agg[0],
            "first_step": agg[1],
            "last_step": agg[2],
            "last_value": last.value,
            "last_flag": last.flag,
            "min_value": lo.value if lo else None,
            "min_step": lo.step if lo else None,
            "max_value": hi.value if hi else None,
            "max_step": hi.step if hi else None,
            "nonfinite": agg[3] or 0,
            "revision": revision,
        },
        exists,
    )
