from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine

from losswatch.api import deps, gate
from losswatch.api.inline import InlineWriter
from losswatch.api.schemas import MAX_STEP, IngestOut, KeysOut, MetricsIn, RewindIn, RewindOut, RunId, SeriesOut, out
from losswatch.api.wire import BadBody, WireBatch, decode_batch
from losswatch.monitor.downsample import minmax_indices
from losswatch.monitor.errors import Invalid, LimitExceeded
from losswatch.monitor.settings import Settings
from losswatch.monitor.smoothing import smooth
from losswatch.monitor.store import columns, ingest, series
from losswatch.monitor.store.cache import SeriesCache
from losswatch.monitor.store.runs import get_run
from losswatch.monitor.vocabulary import SmoothingMode, control_problem

router = APIRouter(tags=["metrics"])


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """The body schema with its definitions inlined, for openapi_extra (which has no components)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)


METRICS_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _inline(MetricsIn.model_json_schema())}},
    }
}


@router.post("/runs/{run_id}/metrics", response_model=IngestOut, openapi_extra=METRICS_BODY)
async def post_metrics(run_id: RunId, request: Request) -> Response:
    """Store a batch of points and answer with the decision. A retried batch (same `batch_id`, same points) changes
    nothing; the same `batch_id` over other points is refused (422). The same (key, step) with the same value is a
    duplicate, with another value it is overwritten, inside one batch as across batches.
    """
    # The hot path: msgspec decodes and validates the raw bytes in one pass, twice as fast as pydantic; the
    # engine and settings come from app state, not from dependencies FastAPI would solve per request.
    try:
        body = decode_batch(await request.body())
    except BadBody as exc:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)
    state = request.app.state
    settings: Settings = state.settings
    inline: InlineWriter | None = state.inline
    result = None
    if inline is not None:
        result = inline.attempt(
            lambda engine, budget: _ingest(run_id, body, request, engine, settings, budget), _size(body)
        )
        if result is not None and inline.checkpoint_due():
            # On a thread, and before the answer: the client's next batch then finds the WAL copied back
            # whole and starts it over from its beginning (one written meanwhile would append to it).
            await run_in_threadpool(inline.checkpoint)
    if result is None:
        async with gate.held(state.gate):
            result = await run_in_threadpool(_ingest, run_id, body, request, state.engine, settings, None)
    # Encoded here, already in the documented shape: FastAPI's response-model pass would re-validate it.
    return Response(_encoder.encode(result), media_type="application/json")


_encoder = msgspec.json.Encoder()


def _size(body: WireBatch) -> int:
    return len(body.points or ()) + sum(len(s.steps) for s in body.series or ())


def _ingest(
    run_id: str, body: WireBatch, request: Request, engine: Engine, settings: Settings, defer_ms: float | None
) -> dict[str, Any]:
    points = body.points or []
    wire_series = body.series or []
    n = _size(body)
    if n > settings.max_batch_points:
        raise LimitExceeded(
            f"a batch may carry at most {settings.max_batch_points} points (max_batch_points); this one has {n}"
        )
    if "\x00" in (body.batch_id or ""):
        raise Invalid("the batch_id holds a NUL character")
    for key in {p.key for p in points} | {s.key for s in wire_series}:
        if why := control_problem(key):
            raise Invalid(f"refused {why}: keys are names, as TensorBoard tags are")
    max_key, max_step = settings.max_key_length, settings.max_step
    for i, p in enumerate(points):
        if len(p.key) > max_key:
            raise LimitExceeded(f"points[{i}].key is longer than max_key_length ({max_key})")
        if p.step > max_step:
            raise Invalid(f"points[{i}].step {p.step} is beyond max_step ({max_step})")
    arrays = []
    for i, s in enumerate(wire_series):
        if len(s.key) > max_key:
            raise LimitExceeded(f"series[{i}].key is longer than max_key_length ({max_key})")
        cols = columns.from_series(s.key, s.steps, s.values, s.times, where=f"series[{i}]")
        if cols.size and int(cols.steps.max()) > max_step:
            raise Invalid(f"series[{i}].steps holds {int(cols.steps.max())}, beyond max_step ({max_step})")
        arrays.append(cols)
    # The decoded wire points go to the store as they are: it reads key, step, value ("NaN" spelled
    # out or a number) and time, and a copy per point would cost more than the checks above.
    result = ingest.ingest(
        engine,
        run_id=run_id,
        points=points,
        series=arrays,
        batch_id=body.batch_id,
        max_keys_per_run=settings.max_keys_per_run,
        max_check_ms=settings.max_check_ms,
        defer_ms=defer_ms,
    )
    request.app.state.metrics.points.labels(request.app.state.metrics.pid).inc(result.accepted)
    return {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "overwritten": result.overwritten,
        "decision": result.decision.to_dict(),
    }


@router.get("/runs/{run_id}/metrics", response_model=KeysOut)
def list_keys(run_id: RunId, engine: Engine = Depends(deps.engine)) -> dict[str, Any]:
    """Every key of the run with its count, first and last step, last value, and min and max with their steps."""
    with engine.connect() as conn:
        get_run(conn, run_id=run_id)
        keys = series.key_summaries(conn, run_id=run_id)
    for k in keys:
        k["last"] = out(k["last"])
    return {"keys": keys}


@router.get("/runs/{run_id}/metrics/{key:path}", response_model=SeriesOut)
def get_series(
    run_id: RunId,
    key: str,
    smoothing: float | None = Query(
        default=None, ge=0.0, lt=1.0, allow_inf_nan=False, description="EMA weight; default LOSSWATCH_DEFAULT_SMOOTHING"
    ),
    smoothing_mode: SmoothingMode = "tensorboard",
    max_points: int | None = Query(
        default=None, ge=2, le=10_000_000, description="at most this many points; default LOSSWATCH_DEFAULT_MAX_POINTS"
    ),
    since_step: int | None = Query(default=None, ge=-1, le=MAX_STEP),
    cache: SeriesCache = Depends(deps.series_cache),
    engine: Engine = Depends(deps.engine),
    settings: Settings = Depends(deps.settings),
) -> dict[str, Any]:
    """One key's points with their smoothed values. Smoothing runs over the whole series, then downsampling keeps each
    bucket's min and max and the first and last point.
    """
    smoothing = settings.default_smoothing if smoothing is None else smoothing
    max_points = min(settings.default_max_points if max_points is None else max_points, settings.max_query_points)
    with engine.connect() as conn:
        s = series.read_series(conn, run_id=run_id, key=key, cache=cache)
    # Smoothing runs over the whole series, so a live poll with since_step sees the same curve.
    smoothed = smooth(s.values, mode=smoothing_mode, weight=smoothing)
    lo = 0 if since_step is None else int(np.searchsorted(s.steps, since_step, side="right"))
    idx = lo + minmax_indices(s.values[lo:], max_points)
    points = [
        {
            "step": int(s.steps[i]),
            "value": out(float(s.values[i])),
            "smoothed": out(float(smoothed[i])),
            "time": float(s.times[i]),
        }
        for i in idx
    ]
    total = int(s.steps.size - lo)
    return {
        "key": key,
        "total": total,
        "downsampled": len(points) < total,
        "smoothing": smoothing,
        "smoothing_mode": smoothing_mode,
        "points": points,
    }


@router.post("/runs/{run_id}/rewind", response_model=RewindOut, dependencies=[deps.write_turn])
def rewind(run_id: RunId, body: RewindIn, engine: Engine = Depends(deps.engine)) -> dict[str, Any]:
    """Delete the points after `step`, as a resume from an earlier checkpoint does (TensorBoard's purge). A repeated
    `rewind_id` is a no-op; the same `rewind_id` with another step is refused (422).
    """
    return series.rewind(engine, run_id=run_id, step=body.step, rewind_id=body.rewind_id)
