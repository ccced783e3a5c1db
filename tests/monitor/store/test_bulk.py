"""The points table's bulk insert: every point lands once, as sent, whatever the batch's size.

SQLite takes the points in multi-row statements of `ROWS_PER_INSERT` rows and a remainder, so the sizes
around those edges are where a point could be dropped or written twice; PostgreSQL takes one COPY.
"""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import Engine, text

from losswatch.monitor.db import bulk_writer, make_engine
from losswatch.monitor.models import FLAG_FINITE, FLAG_NAN, FLAG_NEGINF, FLAG_POSINF
from losswatch.monitor.store import bulk, runs
from losswatch.monitor.store.columns import flags_of
from losswatch.monitor.store.ingest import ensure_keys

R = bulk.ROWS_PER_INSERT


def _points(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    steps = np.arange(n, dtype=np.int64) * 7 + 3
    values = 1.0 / (1.0 + np.arange(n))
    # Non-finite values at a statement's first and last row, where a shifted slice would show.
    for i, v in ((0, np.nan), (R - 1, np.inf), (R, -np.inf), (n - 1, np.nan)):
        if 0 <= i < n:
            values[i] = v
    times = 1.7e9 + np.arange(n) * 0.5
    return steps, values, flags_of(values), times


def _inserted(
    url: str, steps: np.ndarray, values: np.ndarray, flags: np.ndarray, times: np.ndarray
) -> tuple[Engine, int]:
    """A fresh run's `loss` key with the points bulk-inserted; the caller disposes of the engine."""
    engine = make_engine(url)
    run, _ = runs.create_run(engine, name="bulk")
    with bulk_writer(engine).begin() as conn:
        key_id = ensure_keys(conn, run_id=run["id"], names=["loss"], limit=10)["loss"]
        bulk.insert(conn, key_id, steps, values, flags, times)
    return engine, key_id


@pytest.mark.parametrize(
    "n",
    [1, R - 1, R, R + 1, 2 * R, 2 * R + 1, 2000],
    ids=["one", "one-short-of-a-statement", "one-statement", "one-over", "two-statements", "two-and-one", "2000"],
)
def test_bulk_insert_stores_every_point_once_as_sent(db_url: str, n: int) -> None:
    steps, values, flags, times = _points(n)
    engine, key_id = _inserted(db_url, steps, values, flags, times)
    with engine.connect() as conn:
        got_steps, got_values, got_flags = bulk.existing(conn, key_id, steps)
        rows = conn.execute(
            text("SELECT wall_time, value FROM metric_points WHERE key_id = :k ORDER BY step"), {"k": key_id}
        ).all()
    engine.dispose()
    assert got_steps.tolist() == steps.tolist()
    assert got_flags.tolist() == flags.tolist()
    finite = flags == FLAG_FINITE
    assert got_values[finite].tolist() == values[finite].tolist()
    assert [r[1] for r in rows if r[1] is None] == [None] * int((~finite).sum())  # non-finite stored as NULL
    assert [r[0] for r in rows] == times.tolist()


def test_bulk_insert_flags_say_which_non_finite_value_it_was(sqlite_url: str) -> None:
    steps, values, flags, times = _points(R + 2)
    engine, key_id = _inserted(sqlite_url, steps, values, flags, times)
    with engine.connect() as conn:
        _, _, got = bulk.existing(conn, key_id, steps)
    engine.dispose()
    assert [int(got[i]) for i in (0, R - 1, R, R + 1)] == [FLAG_NAN, FLAG_POSINF, FLAG_NEGINF, FLAG_NAN]
