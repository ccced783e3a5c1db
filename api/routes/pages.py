"""The dashboard: three static pages that read the REST API, and the files they load under `/static`.

The pages are plain HTML/JS with no build step; the run id and the compared runs come from the URL,
so the server only checks that what is asked for exists and hands out files.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine

from losswatch.api import deps
from losswatch.monitor.errors import NotFound
from losswatch.monitor.settings import Settings
from losswatch.monitor.store import runs

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).resolve().parent.parent / "static"
# The pages change with the code, not per request; revalidate so an upgrade is seen at once.
NO_STALE = {"Cache-Control": "no-cache"}


def _page(name: str, status_code: int = 200) -> FileResponse:
    return FileResponse(STATIC / name, status_code=status_code, media_type="text/html; charset=utf-8", headers=NO_STALE)


@router.get("/", response_class=HTMLResponse)
def index() -> FileResponse:
    return _page("index.html")


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(
    run_id: str,
    request: Request,
    engine: Engine = Depends(deps.engine),
    settings: Settings = Depends(deps.settings),
) -> Response:
    if settings.auth == "required":
        # The page itself holds no data; without a token it must not tell which ids exist. Its script
        # asks the API, with the token, and says "not found" there.
        return _page("run.html")
    with engine.connect() as conn:
        try:
            runs.get_run(conn, run_id=run_id)
        except NotFound:
            # The start of one run's id leads to it, as the CLI accepts it; anything else gets a page
            # that says there is no such run (not a JSON error).
            matches = [r["id"] for r in runs.list_runs(engine) if r["id"].startswith(run_id)]
            if len(matches) == 1:
                # The view is part of the link (smoothing, mode, scale): it goes along.
                query = f"?{request.url.query}" if request.url.query else ""
                return RedirectResponse(f"/runs/{quote(matches[0], safe='')}{query}", status_code=307)
            return _page("missing.html", status_code=404)
    return _page("run.html")


@router.get("/compare", response_class=HTMLResponse)
def compare_page() -> FileResponse:
    return _page("compare.html")


@router.get("/static/{path:path}")
def static_file(path: str) -> FileResponse:
    try:
        target = (STATIC / path).resolve()
        # resolve() folds "..", so anything outside the folder is refused however it is spelled.
        found = target.is_relative_to(STATIC) and target.is_file()
    except (ValueError, OSError) as exc:  # a NUL or an over-long name: nothing there by that name
        raise HTTPException(404, "no such static file") from exc
    if not found:
        raise HTTPException(404, "no such static file")
    media = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if media.startswith("text/") or media == "application/javascript":
        media += "; charset=utf-8"
    return FileResponse(target, media_type=media, headers=NO_STALE)
