"""Moving one key's points between arrays and the points table as fast as each driver allows.

SQLite: multi-row `INSERT ... VALUES (...), (...)` statements straight on the driver, a few hundred rows
each. SQLAlchemy's per-row parameter processing would cost more than the insert itself, and even the
driver's `executemany` steps and resets one statement per row: on 2000 points the multi-row form takes
about half the time (bench/README.md). PostgreSQL: one binary `COPY`, its rows built by numpy in the wire
format.
Non-finite values are stored as NULL with their flag, on both backends.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import repeat
from typing import Any

import numpy as np
from sqlalchemy import Connection

from losswatch.monitor.models import FLAG_FINITE
from losswatch.monitor.store import driver

IN_CHUNK = 500
# Rows per multi-row INSERT: 5 parameters each stays under the 999 that SQLite builds before 3.32 allow,
# and a few fixed statement lengths keep the driver's statement cache warm.
ROWS_PER_INSERT = 192
_COLUMNS = "metric_points (key_id, step, value, flag, wall_time)"


def _ph(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def _values_or_null(values: np.ndarray, flags: np.ndarray) -> list[float | None]:
    out: list[float | None] = values.tolist()
    for i in np.flatnonzero(flags != FLAG_FINITE).tolist():
        out[i] = None
    return out


def insert(
    conn: Connection, key_id: int, steps: np.ndarray, values: np.ndarray, flags: np.ndarray, times: np.ndarray
) -> None:
    """Insert points that are known to be new (the caller holds the run's lock and has compared)."""
    if not steps.size:
        return
    if conn.dialect.name == "postgresql":
        _copy(conn, key_id, steps, values, flags, times)
        return
    n = int(steps.size)
    # One object matrix, flattened row-major, gives the parameters in statement order with the Python
    # types the driver binds (int steps, float or None values) in a few C passes.
    rows = np.empty((n, 5), dtype=object)
    rows[:, 0] = key_id
    rows[:, 1] = steps.tolist()
    rows[:, 2] = _values_or_null(values, flags)
    rows[:, 3] = flags.tolist()
    rows[:, 4] = times.tolist()
    flat = rows.ravel().tolist()
    width = 5 * ROWS_PER_INSERT
    for i in range(0, len(flat), width):
        part = flat[i : i + width]
        driver.execute(conn, insert_sql(len(part) // 5), part)


@lru_cache(maxsize=ROWS_PER_INSERT + 1)
def insert_sql(rows: int) -> str:
    """The INSERT of `rows` points (the bench writes its raw multi-row floor with it too)."""
    return f"INSERT INTO {_COLUMNS} VALUES " + ", ".join(["(?, ?, ?, ?, ?)"] * rows)


def update(
    conn: Connection, key_id: int, steps: np.ndarray, values: np.ndarray, flags: np.ndarray, times: np.ndarray
) -> None:
    if not steps.size:
        return
    ph = _ph(conn)
    n = int(steps.size)
    rows = zip(
        _values_or_null(values, flags), flags.tolist(), times.tolist(), repeat(key_id, n), steps.tolist(), strict=True
    )
    conn.exec_driver_sql(
        f"UPDATE metric_points SET value = {ph}, flag = {ph}, wall_time = {ph} WHERE key_id = {ph} AND step = {ph}",
        list(rows),
    )


def existing(conn: Connection, key_id: int, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The stored (steps, values, flags) among `steps` (sorted, unique), sorted by step; NULL reads as NaN."""
    if not steps.size:
        return np.empty(0, np.int64), np.empty(0), np.empty(0, np.int16)
    ph = _ph(conn)
    base = f"SELECT step, value, flag FROM metric_points WHERE key_id = {ph} AND "
    lo, hi = int(steps[0]), int(steps[-1])
    rows: list[Any] = []
    if hi - lo < 4 * steps.size:
        # A dense overlap (a resend, a resume): one range scan reads at most a few times what is asked.
        rows = list(conn.exec_driver_sql(base + f"step BETWEEN {ph} AND {ph}", (key_id, lo, hi)).fetchall())
    else:
        wanted = steps.tolist()
        for i in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[i : i + IN_CHUNK]
            marks = ", ".join([ph] * len(chunk))
            rows += conn.exec_driver_sql(base + f"step IN ({marks})", (key_id, *chunk)).fetchall()
    if not rows:
        return np.empty(0, np.int64), np.empty(0), np.empty(0, np.int16)
    got_steps = np.array([r[0] for r in rows], dtype=np.int64)
    got_values = np.array([np.nan if r[1] is None else r[1] for r in rows], dtype=np.float64)
    got_flags = np.array([r[2] for r in rows], dtype=np.int16)
    order = np.argsort(got_steps)
    return got_steps[order], got_values[order], got_flags[order]


# -- PostgreSQL binary COPY ------------------------------------------------------------------------
_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_TRAILER = (-1).to_bytes(2, "big", signed=True)
# One tuple: field count, then (length, bytes) per field, all big-endian; a NULL is length -1, no bytes.
_FIELDS = [
    ("n", ">i2"),
    ("l_key", ">i4"),
    ("key", ">i4"),
    ("l_step", ">i4"),
    ("step", ">i8"),
    ("l_value", ">i4"),
    ("value", ">f8"),
    ("l_flag", ">i4"),
    ("flag", ">i2"),
    ("l_time", ">i4"),
    ("time", ">f8"),
]
_ROW = np.dtype(_FIELDS)
_NULL_ROW = np.dtype([f for f in _FIELDS if f[0] != "value"])


def _tuples(dtype: np.dtype, key_id: int, steps: np.ndarray, flags: np.ndarray, times: np.ndarray) -> np.ndarray:
    rows = np.empty(steps.size, dtype=dtype)
    rows["n"], rows["l_key"], rows["key"] = 5, 4, key_id
    rows["l_step"], rows["step"] = 8, steps
    rows["l_flag"], rows["flag"] = 2, flags
    rows["l_time"], rows["time"] = 8, times
    return rows


def copy_payload(key_id: int, steps: np.ndarray, values: np.ndarray, flags: np.ndarray, times: np.ndarray) -> bytes:
    finite = flags == FLAG_FINITE
    rows = _tuples(_ROW, key_id, steps[finite], flags[finite], times[finite])
    rows["l_value"], rows["value"] = 8, values[finite]
    parts = [_HEADER, rows.tobytes()]
    if not finite.all():
        null = _tuples(_NULL_ROW, key_id, steps[~finite], flags[~finite], times[~finite])
        null["l_value"] = -1
        parts.append(null.tobytes())
    parts.append(_TRAILER)
    return b"".join(parts)


def _copy(
    conn: Connection, key_id: int, steps: np.ndarray, values: np.ndarray, flags: np.ndarray, times: np.ndarray
) -> None:
    raw = conn.connection.driver_connection
    assert raw is not None
    sql = f"COPY {_COLUMNS} FROM STDIN (FORMAT BINARY)"
    with driver.errors(conn, sql), raw.cursor() as cur, cur.copy(sql) as copy:
        copy.write(copy_payload(key_id, steps, values, flags, times))
