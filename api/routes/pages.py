"""A plain HTML list of runs at `/`."""

from __future__ import annotations

import datetime as dt
from html import escape

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine

from api import deps
from monitor.store import decisions, runs

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def index(engine: Engine = Depends(deps.engine)) -> str:
    rows = []
    with engine.connect() as conn:
        for run in runs.list_runs(engine, limit=500):
            d = decisions.current(conn, run)
            when = dt.datetime.fromtimestamp(run["created_at"]).strftime("%Y-%m-%d %H:%M")
            rows.append(
                f"<tr><td>{escape(run['project'])}</td><td><a href='/api/v1/runs/{escape(run['id'])}'>"
                f"{escape(run['name'])}</a></td><td>{escape(run['status'])}</td><td>{when}</td>"
                f"<td>{'stop' if d.should_stop else 'go'}: {escape(d.message)}</td></tr>"
            )
    body = "".join(rows) or "<tr><td colspan=5>No runs yet.</td></tr>"
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>losswatch</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}"
        "td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left}</style></head><body>"
        "<h1>losswatch</h1><table><thead><tr><th>project</th><th>run</th><th>status</th><th>created</th>"
        f"<th>decision</th></tr></thead><tbody>{body}</tbody></table></body></html>"
    )
