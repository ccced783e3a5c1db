from __future__ import annotations

from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, Query
from sqlalchemy import Connection, Engine

from losswatch.api import deps
from losswatch.api.schemas import RunId
from losswatch.monitor.diagnostics import diagnose
from losswatch.monitor.errors import NotFound
from losswatch.monitor.store import decisions, runs, series
from losswatch.monitor.store.cache import SeriesCache
from losswatch.monitor.vocabulary import ENDED_STATUSES, EVAL_LOSS, TRAIN_LOSS, companion_key

router = APIRouter(tags=["diagnostics"])


def _read(conn: Connection, run_id: str, key: str, cache: SeriesCache) -> tuple[np.ndarray, np.ndarray]:
    try:
        s = series.read_series(conn, run_id=run_id, key=key, cache=cache)
    except NotFound:
        # A key not logged yet reads as an empty series: "too early to judge", with the config's advice.
        return np.empty(0, dtype=np.int64), np.empty(0)
    return s.steps, s.values


@router.get("/runs/{run_id}/diagnostics")
def get_diagnostics(
    run_id: RunId,
    key: str | None = Query(default=None, min_length=1, max_length=200),
    lang: Literal["en", "zh"] = "en",
    engine: Engine = Depends(deps.engine),
    cache: SeriesCache = Depends(deps.series_cache),
) -> dict[str, Any]:
    """A reading of one key (default: the monitored one): state, trend, volatility, spikes, overfitting, advice and a
    summary, in English or Chinese.
    """
    with engine.connect() as conn:
        run = runs.get_run(conn, run_id=run_id)
        policy = decisions.policy_of(run)
        if key is None:
            names = {k["key"] for k in series.key_summaries(conn, run_id=run_id)}
            key = policy.monitor if policy.monitor in names else TRAIN_LOSS
        steps, values = _read(conn, run_id, key, cache)
        # A run that watches its own validation key (val_loss) is read against that key, not eval_loss.
        own = key == TRAIN_LOSS and policy.monitor not in (TRAIN_LOSS, EVAL_LOSS)
        partner = policy.monitor if own else (companion_key(key) or TRAIN_LOSS)
        other = _read(conn, run_id, partner, cache)
    mode = policy.mode if key == policy.monitor else "min"
    return diagnose(
        steps,
        values,
        key=key,
        mode=mode,
        companion=other if other[0].size else None,
        config=run["config"],
        lang=lang,
        monitor=policy.monitor,
        ended=run["status"] in ENDED_STATUSES,
    )
