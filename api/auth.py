"""Who may do what, decided at the edge. With auth off every request is allowed (loopback only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from losswatch.monitor.models import Project, Run
from losswatch.monitor.store.tokens import Principal, authenticate

F = TypeVar("F", bound=Callable[..., object])


def needs(scope: str) -> Callable[[F], F]:
    """Mark a route's scope when its method does not say it (a POST that only reads, an admin action)."""

    def mark(endpoint: F) -> F:
        endpoint.required_scope = scope  # type: ignore[attr-defined]
        return endpoint

    return mark


def required_scope(request: Request) -> str:
    # Decided by the route that matched, never by how the path is spelled: a run may be called "replay".
    marked = getattr(request.scope.get("endpoint"), "required_scope", None)
    if marked is not None:
        return marked
    return "read" if request.method in ("GET", "HEAD", "OPTIONS") else "write"


async def guard(request: Request) -> None:
    """Router-level dependency: authenticate, check the scope, and keep a token inside its project.

    Async so that with auth off it costs no thread hop; the database work runs in the thread pool."""
    request.state.principal = None
    if request.app.state.settings.auth == "off":
        return
    await run_in_threadpool(_check, request)


def _check(request: Request) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise HTTPException(
            401, "authentication required: send 'Authorization: Bearer <token>'", headers={"WWW-Authenticate": "Bearer"}
        )
    principal = authenticate(request.app.state.engine, secret=secret.strip())
    if principal is None:
        raise HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
    scope = required_scope(request)
    if not principal.may(scope):
        raise HTTPException(403, f"this token lacks the '{scope}' scope")
    run_id = request.path_params.get("run_id")
    if run_id is not None:
        with request.app.state.engine.connect() as conn:
            project = conn.scalar(select(Project.name).join(Run, Run.project_id == Project.id).where(Run.id == run_id))
        if project is not None and project != principal.project:
            # The same answer as for a run that does not exist: another project's ids are not revealed.
            raise HTTPException(404, f"no run with id {run_id!r}")
    request.state.principal = principal


async def principal(request: Request) -> Principal | None:
    # `async` so FastAPI calls it on the loop: a plain `def` dependency costs a hop to its thread pool.
    return getattr(request.state, "principal", None)


def check_project(p: Principal | None, project: str | None) -> None:
    if p is not None and project is not None and project != p.project:
        raise HTTPException(403, f"this token is for project {p.project!r}, not {project!r}")
