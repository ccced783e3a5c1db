"""Where a key of a run is headed: GET /runs/{id}/forecast."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import Engine

from losswatch.api import deps
from losswatch.api.schemas import RunId
from losswatch.monitor.judgement.outlook import outlook
from losswatch.monitor.judgement.schedule import Schedule
from losswatch.monitor.store import decisions, runs, series
from losswatch.monitor.store.cache import SeriesCache

router = APIRouter(tags=["diagnostics"])


@router.get("/runs/{run_id}/forecast")
def get_forecast(
    run_id: RunId,
    key: str | None = Query(default=None, min_length=1, max_length=200),
    horizon: int | None = Query(default=None, ge=1, le=2**62, description="step to forecast to; default: planned end"),
    level: float = Query(default=0.8, gt=0.0, lt=1.0, description="probability the interval holds the value"),
    engine: Engine = Depends(deps.engine),
    cache: SeriesCache = Depends(deps.series_cache),
) -> dict[str, Any]:
    """Where `key` (default: the monitored key) is headed by `horizon` (default: the run's planned last step
    from its config): the expected value (the mixture's median) with a `level` interval, the best value
    expected by then and the relative gain continuing buys over the best so far. Learning-curve families
    (power law, exponential, a power law that turns up, flat, a steady rise, a settled level) mixed by how
    well each foresees the series; noise from the series itself. 422 when there are fewer than 4 finite
    points or the horizon is not after the last point."""
    with engine.connect() as conn:
        run = runs.get_run(conn, run_id=run_id)
        policy = decisions.policy_of(run)
        key = key or policy.monitor
        s = series.read_series(conn, run_id=run_id, key=key, cache=cache)
    mode = policy.mode if key == policy.monitor else "min"
    return outlook(
        s.steps,
        s.values,
        key=key,
        mode=mode,
        schedule=Schedule.from_config(run["config"]),
        horizon=horizon,
        level=level,
    )
