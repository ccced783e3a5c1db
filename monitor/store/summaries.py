"""Per-key summaries, kept in the same transaction as the points they describe."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import Connection, bindparam, case, func, select

from losswatch.monitor.models import FLAG_FINITE, MetricPoint, MetricSummary
from losswatch.monitor.store import driver

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


_LOAD = select(MetricSummary.__table__).where(MetricSummary.key_id == bindparam("kid"))
# Every ingest writes one: straight on the driver (monitor/store/driver.py).
_UPDATE_SQL = f"UPDATE metric_summaries SET {', '.join(f + ' = ?' for f in FIELDS)} WHERE key_id = ?"
_INSERT_SQL = f"INSERT INTO metric_summaries (key_id, {', '.join(FIELDS)}) VALUES (?{', ?' * len(FIELDS)})"
# The summary columns as ingest reads them beside each key (see `ingest.keys_and_summaries`).
COLUMNS_SQL = ", ".join(f"s.{f}" for f in FIELDS)


def load(conn: Connection, key_id: int) -> dict[str, Any] | None:
    row = conn.execute(_LOAD, {"kid": key_id}).first()
    if row is None:
        return None
    return {f: getattr(row, f) for f in FIELDS}


def from_row(values: tuple[Any, ...]) -> dict[str, Any] | None:
    """A summary from the FIELDS columns of a joined row; None when the key has none yet."""
    if values[0] is None:
        return None
    return dict(zip(FIELDS, values, strict=True))


def _save(conn: Connection, key_id: int, values: dict[str, Any], exists: bool) -> None:
    row = [values[f] for f in FIELDS]
    if exists:
        driver.execute(conn, _UPDATE_SQL, [*row, key_id])
    else:
        driver.execute(conn, _INSERT_SQL, [key_id, *row])


def add(
    conn: Connection,
    key_id: int,
    summary: dict[str, Any] | None,
    steps: np.ndarray,
    values: np.ndarray,
    flags: np.ndarray,
) -> None:
    """Fold newly inserted points (sorted by step) in without reading the points table."""
    s: dict[str, Any] = dict(summary) if summary else dict(EMPTY)
    if s["last_step"] is not None and int(steps[0]) <= s["last_step"]:
        s["revision"] += 1  # an insert inside the known range: not an append
    s["count"] += int(steps.size)
    if s["first_step"] is None or int(steps[0]) < s["first_step"]:
        s["first_step"] = int(steps[0])
    if s["last_step"] is None or int(steps[-1]) >= s["last_step"]:
        s["last_step"], s["last_flag"] = int(steps[-1]), int(flags[-1])
        s["last_value"] = float(values[-1]) if flags[-1] == FLAG_FINITE else None
    finite = flags == FLAG_FINITE
    n_finite = int(np.count_nonzero(finite))
    s["nonfinite"] += int(steps.size) - n_finite
    if n_finite:
        fs, fv = (steps, values) if n_finite == steps.size else (steps[finite], values[finite])
        # argmin/argmax return the first extreme, so ties keep the earliest step, as a scan would.
        for name, i, better in (("min", int(np.argmin(fv)), float.__lt__), ("max", int(np.argmax(fv)), float.__gt__)):
            v, st = float(fv[i]), int(fs[i])
            old, old_step = s[f"{name}_value"], s[f"{name}_step"]
            if old is None or better(v, old) or (v == old and st < old_step):
                s[f"{name}_value"], s[f"{name}_step"] = v, st
    _save(conn, key_id, s, summary is not None)


EMPTY: dict[str, Any] = {
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
        _save(conn, key_id, {**EMPTY, "revision": revision}, exists)
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
