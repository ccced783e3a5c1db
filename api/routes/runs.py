from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import Engine

from losswatch.api import auth, deps
from losswatch.api.schemas import HeartbeatOut, RunCreate, RunCreated, RunDetail, RunId, RunList, RunOut, RunPatch, out
from losswatch.monitor.diagnostics.advice import start_advice
from losswatch.monitor.errors import LimitExceeded
from losswatch.monitor.labels import decision_text
from losswatch.monitor.mirrors import cursors as mirror_cursors
from losswatch.monitor.settings import Settings
from losswatch.monitor.storable import check_config
from losswatch.monitor.store import decisions, runs, series
from losswatch.monitor.store.tokens import Principal
from losswatch.monitor.vocabulary import ShownStatus

router = APIRouter(tags=["runs"])


@router.post(
    "/runs",
    status_code=201,
    response_model=RunCreated,
    responses={200: {"model": RunCreated, "description": "a run with that id existed: resumed"}},
    dependencies=[deps.urgent_turn],
)
def create_run(
    body: RunCreate,
    response: Response,
    engine: Engine = Depends(deps.engine),
    who: Principal | None = Depends(auth.principal),
    settings: Settings = Depends(deps.settings),
) -> dict[str, Any]:
    """Create a run (201), or resume the run with that `id` in the same project (200)."""
    auth.check_project(who, body.project)
    for field, text in (("name", body.name), ("project", body.project)):
        if len(text) > settings.max_name_length:
            raise LimitExceeded(f"{field} is longer than max_name_length ({settings.max_name_length})")
    check_config(body.config, max_bytes=settings.max_config_bytes, max_depth=settings.max_config_depth)
    run, created = runs.create_run(
        engine,
        name=body.name,
        project=body.project,
        run_id=body.id,
        # Not sent is not the same as empty: a resume keeps what it was not told to change.
        config=body.config if "config" in body.model_fields_set else None,
        early_stopping=body.early_stopping.model_dump() if body.early_stopping else None,
        mirrors=list(body.mirrors),
        check=lambda c: check_config(c, max_bytes=settings.max_config_bytes, max_depth=settings.max_config_depth),
        budget_ms=settings.max_check_ms,
    )
    if not created:
        response.status_code = 200
    # A resumed run has points: its advice is its diagnosis's, which reads them (the client asks for it).
    advice = start_advice(run["config"], monitor=decisions.policy_of(run).monitor) if created else None
    shown = runs.shown(run, now=time.time(), stale_after=settings.stale_after)
    return {**shown, "advice": advice, "stale_after": settings.stale_after}


@router.get("/runs", response_model=RunList)
def list_runs(
    project: str | None = Query(default=None, max_length=200),
    status: ShownStatus | None = Query(default=None),
    limit: int | None = Query(default=None, ge=1, le=10_000, description="runs per page (at most max_runs_page)"),
    offset: int = Query(default=0, ge=0, le=2**31, description="runs to skip, newest first"),
    engine: Engine = Depends(deps.engine),
    who: Principal | None = Depends(auth.principal),
    settings: Settings = Depends(deps.settings),
) -> dict[str, Any]:
    """Runs, newest first, optionally of one project and in one status."""
    auth.check_project(who, project)
    limit = min(limit or settings.max_runs_page, settings.max_runs_page)
    page, total = runs.page_runs(
        engine,
        project=who.project if who else project,
        status=status,
        limit=limit,
        offset=offset,
        stale_after=settings.stale_after,
    )
    return {"runs": page, "total": total, "limit": limit, "offset": offset}


@router.get("/runs/{run_id}", response_model=RunDetail)
def get_run(
    run_id: RunId,
    lang: Literal["en", "zh"] | None = Query(default=None, description="en or zh: adds the decision's `text`"),
    engine: Engine = Depends(deps.engine),
    settings: Settings = Depends(deps.settings),
) -> dict[str, Any]:
    """The run, its keys' summaries, its latest decision and its mirrors' state."""
    with engine.connect() as conn:
        run = runs.get_run(conn, run_id=run_id)
        keys = series.key_summaries(conn, run_id=run_id)
        decision = decisions.current(conn, run)
        mirror_state = mirror_cursors.mirror_state(conn, run=run, default=list(settings.mirrors))
    for k in keys:
        k["last"] = out(k["last"])
    run = runs.shown(run, now=time.time(), stale_after=settings.stale_after)
    shown = decision.to_dict()
    if lang:
        shown["text"] = decision_text(shown, lang)
    return {**run, "keys": keys, "decision": shown, "mirror_state": mirror_state}


@router.delete("/runs/{run_id}", status_code=204, response_class=Response, dependencies=[deps.write_turn])
@auth.needs("admin")
def delete_run(run_id: RunId, engine: Engine = Depends(deps.engine)) -> Response:
    """Delete the run and everything stored for it: points, summaries, decisions, mirror cursors.
    Its TensorBoard or W&B copies stay where they are."""
    runs.delete_run(engine, run_id=run_id)
    return Response(status_code=204)


@router.patch("/runs/{run_id}", response_model=RunOut, dependencies=[deps.urgent_turn])
def patch_run(
    run_id: RunId,
    body: RunPatch,
    engine: Engine = Depends(deps.engine),
    settings: Settings = Depends(deps.settings),
) -> dict[str, Any]:
    """Mark the run finished, failed or stopped (or running again), and/or record its best checkpoint."""
    best = body.best_checkpoint.model_dump() if body.best_checkpoint else None
    run = runs.update_run(engine, run_id=run_id, status=body.status, best_checkpoint=best)
    return runs.shown(run, now=time.time(), stale_after=settings.stale_after)


@router.post("/runs/{run_id}/heartbeat", response_model=HeartbeatOut, dependencies=[deps.urgent_turn])
def heartbeat(
    run_id: RunId, engine: Engine = Depends(deps.engine), settings: Settings = Depends(deps.settings)
) -> dict[str, Any]:
    """The trainer is alive but not logging (a long evaluation); keeps a running run from reading `stale`.

    `stale_after` tells the client how often it needs to say so."""
    run = runs.shown(runs.heartbeat(engine, run_id=run_id), now=time.time(), stale_after=settings.stale_after)
    return {"status": run["status"], "stale_after": settings.stale_after, "last_seen_at": run["last_seen_at"]}
