"""A cached series must always equal a fresh read, whatever happened in between and whoever wrote it."""

from __future__ import annotations

import numpy as np
import pytest

from losswatch.monitor.db import make_engine
from losswatch.monitor.store import ingest, runs, series
from losswatch.monitor.store.cache import SeriesCache
from losswatch.monitor.store.values import PointIn


def pts(steps, f=lambda s: 1.0 / (s + 1)) -> list[PointIn]:
    return [PointIn("loss", s, f(s)) for s in steps]


def same(engine, rid: str, cache: SeriesCache) -> None:
    with engine.connect() as conn:
        cached = series.read_series(conn, run_id=rid, key="loss", cache=cache)
        fresh = series.read_series(conn, run_id=rid, key="loss")
    assert np.array_equal(cached.steps, fresh.steps)
    assert np.array_equal(cached.values, fresh.values, equal_nan=True)


STEPS = [
    ("append", lambda e, r: ingest.ingest(e, run_id=r, points=pts(range(100, 150)))),
    ("overwrite", lambda e, r: ingest.ingest(e, run_id=r, points=pts([10, 11], lambda s: 9.0))),
    ("out-of-order-insert", lambda e, r: ingest.ingest(e, run_id=r, points=pts([1000, 5000]))),
    ("gap-fill", lambda e, r: ingest.ingest(e, run_id=r, points=pts([2000]))),
    ("rewind", lambda e, r: series.rewind(e, run_id=r, step=120)),
    ("rewind-to-start", lambda e, r: series.rewind(e, run_id=r, step=0)),
    ("append-after-rewind", lambda e, r: ingest.ingest(e, run_id=r, points=pts([121, 122]))),
    ("non-finite", lambda e, r: ingest.ingest(e, run_id=r, points=pts([130], lambda s: float("nan")))),
]


@pytest.mark.parametrize("two_workers", [False, True], ids=["one-process", "another-writer"])
def test_series_cache_equals_fresh_read_after_every_change(db_url: str, two_workers: bool) -> None:
    reader = make_engine(db_url)
    writer = make_engine(db_url) if two_workers else reader
    rid = runs.create_run(writer, name="c")[0]["id"]
    ingest.ingest(writer, run_id=rid, points=pts(range(0, 100)))
    cache = SeriesCache()
    same(reader, rid, cache)
    for _, change in STEPS:
        change(writer, rid)
        same(reader, rid, cache)


def test_series_cache_is_bounded() -> None:
    from losswatch.monitor.store.cache import Entry

    cache = SeriesCache(max_points=10)
    arr = np.arange(6)
    cache.put(1, Entry(0, arr, arr * 1.0, arr * 1.0))
    cache.put(2, Entry(0, arr, arr * 1.0, arr * 1.0))
    assert cache.get(1, 0, 6) is None and cache.get(2, 0, 6) is not None
