"""A project's notification targets: where to tell people that a run stopped, went silent, finished."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from losswatch.api import auth, deps
from losswatch.api.schemas import ProjectName, Strict
from losswatch.monitor.notify import targets
from losswatch.monitor.settings import Settings
from losswatch.monitor.store.tokens import Principal
from losswatch.monitor.vocabulary import Lang, NotifyEvent, NotifyKind

router = APIRouter(tags=["notifications"])


class TargetIn(Strict):
    id: int | None = Field(default=None, ge=1, le=2**31 - 1, description="an existing target: its url may be left out")
    kind: NotifyKind
    url: str | None = Field(default=None, min_length=1, max_length=2000, description="the incoming-webhook address")
    events: list[NotifyEvent] = Field(min_length=1, max_length=6)
    lang: Lang = "en"


class NotificationsIn(Strict):
    targets: list[TargetIn] = Field(max_length=100)


class TargetOut(BaseModel):
    id: int
    kind: NotifyKind
    url: str = Field(description="scheme, host and the last characters only: the address is a secret")
    events: list[NotifyEvent]
    lang: Lang


class NotificationsOut(BaseModel):
    targets: list[TargetOut]


class TestIn(Strict):
    target: int | None = Field(default=None, ge=1, le=2**31 - 1, description="one target (default: all)")


class TestOut(BaseModel):
    ids: list[str]


class Delivery(BaseModel):
    id: str
    target_id: int
    run_id: str | None
    event: str
    status: Literal["pending", "done", "failed", "skipped"]
    attempts: int
    last_error: str | None
    created_at: float
    delivered_at: float | None


class DeliveriesOut(BaseModel):
    deliveries: list[Delivery]


@router.get("/projects/{project}/notifications", response_model=NotificationsOut)
def get_notifications(
    project: ProjectName, engine: Engine = Depends(deps.engine), who: Principal | None = Depends(auth.principal)
) -> dict[str, Any]:
    """The project's targets; each URL shows only its scheme, host and last characters."""
    auth.check_project(who, project)
    with engine.connect() as conn:
        return {"targets": targets.list_targets(conn, project=project)}


@router.put("/projects/{project}/notifications", response_model=NotificationsOut, dependencies=[deps.write_turn])
def put_notifications(
    project: ProjectName,
    body: NotificationsIn,
    engine: Engine = Depends(deps.engine),
    settings: Settings = Depends(deps.settings),
    who: Principal | None = Depends(auth.principal),
) -> dict[str, Any]:
    """Replace the project's targets. A target sent with its `id` and no `url` keeps its stored address."""
    auth.check_project(who, project)
    wanted = [
        targets.TargetIn(kind=t.kind, events=list(t.events), lang=t.lang, url=t.url, id=t.id) for t in body.targets
    ]
    return {
        "targets": targets.replace_targets(engine, project=project, targets=wanted, limit=settings.notify_max_targets)
    }


@router.post(
    "/projects/{project}/notifications/test", status_code=202, response_model=TestOut, dependencies=[deps.write_turn]
)
def test_notifications(
    project: ProjectName,
    body: TestIn | None = None,
    engine: Engine = Depends(deps.engine),
    who: Principal | None = Depends(auth.principal),
) -> dict[str, Any]:
    """Queue a test message; the ids let you find it in the deliveries."""
    auth.check_project(who, project)
    ids = targets.send_test(engine, project=project, target_id=body.target if body else None)
    return {"ids": ids}


@router.get("/projects/{project}/notifications/deliveries", response_model=DeliveriesOut)
def get_deliveries(
    project: ProjectName, engine: Engine = Depends(deps.engine), who: Principal | None = Depends(auth.principal)
) -> dict[str, Any]:
    """The project's latest 50 messages and how their delivery went."""
    auth.check_project(who, project)
    with engine.connect() as conn:
        return {"deliveries": targets.deliveries(conn, project=project)}
