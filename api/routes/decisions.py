from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy import Engine

from losswatch.api import auth, deps
from losswatch.api.schemas import DecisionOut, DecisionsOut, ReplayIn, ReplayOut, RunId, StopIn
from losswatch.monitor.budget import afford
from losswatch.monitor.judgement.schedule import Schedule
from losswatch.monitor.labels import decision_text
from losswatch.monitor.replay import replay
from losswatch.monitor.settings import Settings
from losswatch.monitor.store import decisions, runs

router = APIRouter(tags=["decisions"])


Lang = Query(default=None, description="en or zh: adds `text`, the decision as a sentence in that language")


def worded(decision: dict[str, Any], lang: str | None) -> dict[str, Any]:
    return {**decision, "text": decision_text(decision, lang)} if lang else decision


@router.get("/runs/{run_id}/decision", response_model=DecisionOut)
def get_decision(
    run_id: RunId, lang: Literal["en", "zh"] | None = Lang, engine: Engine = Depends(deps.engine)
) -> dict[str, Any]:
    """The run's current decision: whether to stop, why, and the numbers behind it."""
    with engine.connect() as conn:
        return worded(decisions.current(conn, runs.get_run(conn, run_id=run_id)).to_dict(), lang)


@router.get("/runs/{run_id}/decisions", response_model=DecisionsOut)
def list_decisions(
    run_id: RunId, lang: Literal["en", "zh"] | None = Lang, engine: Engine = Depends(deps.engine)
) -> dict[str, Any]:
    """Every change of decision, oldest first: the audit trail and the dashboard's markers."""
    with engine.connect() as conn:
        runs.get_run(conn, run_id=run_id)
        return {"decisions": [worded(d, lang) for d in decisions.history(conn, run_id)]}


@router.post("/runs/{run_id}/stop", response_model=DecisionOut, dependencies=[deps.urgent_turn])
def stop(run_id: RunId, body: StopIn | None = None, engine: Engine = Depends(deps.engine)) -> dict[str, Any]:
    """A person asks the run to stop: its next decision says `manual`, and the trainer stops at the next step."""
    return runs.request_stop(engine, run_id=run_id, reason=body.reason if body else None).to_dict()


@router.post("/runs/{run_id}/replay", response_model=ReplayOut)
@auth.needs("read")
def replay_run(
    run_id: RunId, body: ReplayIn, engine: Engine = Depends(deps.engine), settings: Settings = Depends(deps.settings)
) -> dict[str, Any]:
    """What another policy would have decided at each check of the stored history, and its first stop."""
    with engine.connect() as conn:
        run = runs.get_run(conn, run_id=run_id)
        events = decisions.stored_events(conn, run_id, body.early_stopping.monitor)
    # Read-only, but a core is a core: a replay may cost what the same checks cost when ingested.
    wanted = sum(1 for e in events if e[1] == 1)
    afford(body.early_stopping, wanted, budget_ms=settings.max_replay_ms, what="this replay")
    checks, first = replay(body.early_stopping, events, Schedule.from_config(run.get("config")))
    return {"checks": [c.to_dict() for c in checks], "stop": first.to_dict() if first else None}
