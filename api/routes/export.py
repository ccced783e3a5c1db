"""`GET /runs/{id}/export?format=csv|json`: every point of every key, for people and spreadsheets."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine

from losswatch.api import deps
from losswatch.api.schemas import RunId
from losswatch.monitor.store import series
from losswatch.monitor.store.runs import get_run

router = APIRouter(tags=["export"])


def _number(v: float) -> str:
    # Spelled like the JSON contract, so a CSV round-trips through the import path and spreadsheets.
    if math.isfinite(v):
        return repr(v)
    return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")


def _json_value(v: float) -> float | str:
    return v if math.isfinite(v) else _number(v)


# A cell a spreadsheet would read as a formula (`=cmd|' /C calc'!A0`, `+HYPERLINK(...)`, `@SUM(...)`) gets a
# leading apostrophe, as OWASP advises for CSV injection; only names need it, the numbers are ours.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_field(text: str) -> str:
    if text.startswith(FORMULA_START):
        text = "'" + text
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _series(engine: Engine, run_id: RunId, keys: list[str]) -> Iterator[tuple[str, series.Series]]:
    # One key at a time, so memory follows the largest key, not the whole run.
    for key in keys:
        with engine.connect() as conn:
            yield key, series.read_series(conn, run_id=run_id, key=key)


def _csv(engine: Engine, run_id: RunId, keys: list[str]) -> Iterator[str]:
    yield "key,step,value,time\n"
    for key, s in _series(engine, run_id, keys):
        name = _csv_field(key)
        lines = [
            f"{name},{int(st)},{_number(float(v))},{_number(float(t))}\n"
            for st, v, t in zip(s.steps, s.values, s.times, strict=True)
        ]
        for i in range(0, len(lines), 5000):
            yield "".join(lines[i : i + 5000])


def _json(engine: Engine, run: dict, keys: list[str]) -> Iterator[str]:
    yield '{"run": ' + json.dumps(run) + ', "points": ['
    first = True
    for key, s in _series(engine, run["id"], keys):
        rows = [
            json.dumps({"key": key, "step": int(st), "value": _json_value(float(v)), "time": _json_value(float(t))})
            for st, v, t in zip(s.steps, s.values, s.times, strict=True)
        ]
        if rows:
            yield ("" if first else ", ") + ", ".join(rows)
            first = False
    yield "]}\n"


@router.get("/runs/{run_id}/export")
def export(
    run_id: RunId, format: Literal["csv", "json"] = Query(default="csv"), engine: Engine = Depends(deps.engine)
) -> StreamingResponse:
    """Every stored point of the run as CSV or JSON (non-finite values spelled out)."""
    with engine.connect() as conn:
        run = get_run(conn, run_id=run_id)  # a missing run is a 404 before any byte is streamed
        keys = [k["key"] for k in series.key_summaries(conn, run_id=run_id)]
    filename = f"losswatch-{run_id}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if format == "csv":
        return StreamingResponse(_csv(engine, run_id, keys), media_type="text/csv; charset=utf-8", headers=headers)
    return StreamingResponse(_json(engine, run, keys), media_type="application/json", headers=headers)
