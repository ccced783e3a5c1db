"""`ingest(defer_ms=...)`: a batch estimated to cost more than its caller may spend raises Deferred and leaves
nothing behind (no point, no claimed batch id, no decision), so the caller can write it again elsewhere."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from losswatch.monitor.db import make_engine
from losswatch.monitor.errors import Deferred
from losswatch.monitor.store import ingest, runs
from losswatch.monitor.store.columns import from_series


def series(key: str, n: int) -> list:
    steps = list(range(1, n + 1))
    return [from_series(key, steps, [2.0 / (1 + s / 100) for s in steps], None, where="series[0]")]


# (policy, key, points, deferred under 5 ms): 1 µs a point, 16 ms a forecast check, 0.1 ms a simple one
CASES = [
    pytest.param({}, "loss", 1000, False, id="default-1000-training-points"),
    pytest.param({}, "loss", 5000, False, id="default-5000-training-points-at-the-budget"),
    pytest.param({}, "loss", 5001, True, id="default-5001-training-points"),
    pytest.param({}, "eval_loss", 1, True, id="default-one-forecast-check"),
    pytest.param({"rule": "best"}, "eval_loss", 40, False, id="best-40-checks"),
    pytest.param({"rule": "best"}, "eval_loss", 60, True, id="best-60-checks"),
    pytest.param({"rule": "trend", "trend_window": 1000}, "eval_loss", 1, True, id="trend-window-1000-one-check"),
    pytest.param({"monitor": "loss", "rule": "best"}, "loss", 40, False, id="training-loss-monitor-40-checks"),
]


@pytest.mark.parametrize("policy,key,n,deferred", CASES)
def test_ingest_defer_beyond_the_budget_leaves_nothing(
    db_url: str, policy: dict[str, Any], key: str, n: int, deferred: bool
) -> None:
    engine = make_engine(db_url)
    try:
        run, _ = runs.create_run(engine, name="x", early_stopping=policy)
        rid = run["id"]

        def write(defer_ms: float | None) -> ingest.IngestResult:
            return ingest.ingest(engine, run_id=rid, series=series(key, n), batch_id="b", defer_ms=defer_ms)

        if deferred:
            with pytest.raises(Deferred):
                write(5.0)
            with engine.connect() as conn:
                for table in ("metric_keys", "metric_points", "ingest_batches", "decisions", "stop_states"):
                    assert conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() == 0, table
        result = write(5.0 if not deferred else None)
        assert (result.accepted, result.duplicates) == (n, 0)
    finally:
        engine.dispose()
