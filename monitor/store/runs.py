"""Projects and runs."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, delete, func, not_, select, update
from sqlalchemy.exc import IntegrityError

from losswatch.monitor.db import writer
from losswatch.monitor.errors import Conflict, Invalid, NotFound
from losswatch.monitor.models import MetricKey, MetricPoint, Project, Run
from losswatch.monitor.notify import outbox
from losswatch.monitor.policy import Decision
from losswatch.monitor.store import decisions, driver
from losswatch.monitor.store.projects import ensure_project
from losswatch.monitor.vocabulary import STALE, STATUSES, is_run_id


def run_dict(row: Any, project: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "project": project,
        "name": row.name,
        "status": row.status,
        "config": row.config or {},
        "early_stopping": row.early_stopping,
        "mirrors": row.mirrors or [],
        "stop_requested": row.stop_requested,
        "created_at": row.created_at,
        "ended_at": row.ended_at,
        "best_checkpoint": row.best_checkpoint,
        "last_seen_at": row.last_seen_at,
    }


def shown(run: dict[str, Any], *, now: float, stale_after: float) -> dict[str, Any]:
    """The run as people see it: `running` turns `stale` once nothing (point, heartbeat) came for `stale_after`."""
    if run["status"] == "running" and _silent_since(run) < now - stale_after:
        return {**run, "status": STALE}
    return run


def _silent_since(run: dict[str, Any]) -> float:
    seen = run.get("last_seen_at")
    return float(seen if seen is not None else run["created_at"])


def touch(conn: Connection, *, run_id: str, now: float) -> None:
    """A sign of life (a batch, a heartbeat): a stale run is running again."""
    # On the driver: every batch runs this, and building the Core statement cost more than running it.
    driver.execute(conn, "UPDATE runs SET last_seen_at = ? WHERE id = ?", (now, run_id))


def create_run(
    engine: Engine,
    *,
    name: str,
    project: str = "default",
    run_id: str | None = None,
    config: dict[str, Any] | None = None,
    early_stopping: dict[str, Any] | None = None,
    mirrors: list[str] | None = None,
    check: Callable[[dict[str, Any]], None] = lambda _: None,
    budget_ms: float | None = None,
) -> tuple[dict[str, Any], bool]:
    """Create a run, or resume the existing one with that id. The bool says "created".

    A resume with a `config` or `early_stopping` of its own puts them in force (`_relaunched`); `check`
    vets a config made by merging one into the stored one, as the caller vetted the one it was sent."""
    if run_id is not None and not is_run_id(run_id):
        raise Invalid(
            "run id must be 1-64 characters of letters, digits, '_', '.', '-', starting with a letter or digit"
        )
    for attempt in range(3):
        try:
            return _create_run(
                engine,
                name=name,
                project=project,
                run_id=run_id,
                config=config,
                early_stopping=early_stopping,
                mirrors=mirrors,
                check=check,
                budget_ms=budget_ms,
            )
        except IntegrityError:
            # Two clients created the same run id at once; the next attempt finds it and resumes.
            if attempt == 2 or run_id is None:
                raise
    raise AssertionError("unreachable")


def _create_run(
    engine: Engine,
    *,
    name: str,
    project: str,
    run_id: str | None,
    config: dict[str, Any] | None,
    early_stopping: dict[str, Any] | None,
    mirrors: list[str] | None,
    check: Callable[[dict[str, Any]], None],
    budget_ms: float | None,
) -> tuple[dict[str, Any], bool]:
    with writer(engine).begin() as conn:
        pid = ensure_project(conn, project)
        if run_id is not None:
            row = conn.execute(select(Run.__table__).where(Run.id == run_id)).first()
            if row is not None:
                if row.project_id != pid:
                    # Worded so as not to tell another project's token that the id exists there.
                    raise Conflict(f"run id {run_id!r} is not available; choose another id")
                if row.status != "running" or row.stop_requested:
                    # A resumed run is running again: the ended mark and a person's stop belonged to the
                    # earlier attempt (resuming is the person saying "go on").
                    conn.execute(
                        update(Run).where(Run.id == run_id).values(status="running", ended_at=None, stop_requested=None)
                    )
                touch(conn, run_id=run_id, now=time.time())
                before = run_dict(conn.execute(select(Run.__table__).where(Run.id == run_id)).first(), project)
                after = _relaunched(
                    conn, before, config=config, early_stopping=early_stopping, check=check, budget_ms=budget_ms
                )
                return after, False
        rid = run_id or uuid.uuid4().hex[:16]
        now = time.time()
        conn.execute(
            Run.__table__.insert().values(
                id=rid,
                project_id=pid,
                name=name,
                status="running",
                config=config or {},
                early_stopping=early_stopping,
                mirrors=mirrors or [],
                created_at=now,
                last_seen_at=now,
            )
        )
        row = conn.execute(select(Run.__table__).where(Run.id == rid)).first()
        return run_dict(row, project), True


def _relaunched(
    conn: Connection,
    run: dict[str, Any],
    *,
    config: dict[str, Any] | None,
    early_stopping: dict[str, Any] | None,
    check: Callable[[dict[str, Any]], None],
    budget_ms: float | None,
) -> dict[str, Any]:
    """A resume that brings its own config or policy: the latest launch's arguments are the ones in force, as
    the Trainer's own are on a resume (a person who raises the patience after a stop, or extends the run,
    resumes to get exactly that). The config is merged key by key, so a client that sends part of it keeps
    the rest; the policy, when sent, replaces the stored one. The stop state is then the one the new policy
    and plan give over every stored point."""
    merged = {**run["config"], **config} if config else run["config"]
    policy = early_stopping if early_stopping is not None else run["early_stopping"]
    if merged == run["config"] and policy == run["early_stopping"]:
        return run
    check(merged)
    after = {**run, "config": merged, "early_stopping": policy}
    again = decisions.needs_rejudge(run, after)
    if again and budget_ms is not None and (cost := decisions.rejudge_ms(conn, after)) > budget_ms:
        # Judging a long run again holds every other writer for as long (16 ms an evaluation under the
        # default rule): past the budget the run keeps what it had, and the answer says why.
        return {
            **run,
            "kept": f"the run keeps its earlier early_stopping and config: judging its stored evaluations again "
            f"under the new ones would take about {cost / 1000:.1f} s, more than max_check_ms "
            f"({budget_ms / 1000:.1f} s); start a new run (another id, or another output folder) to use them",
        }
    conn.execute(update(Run).where(Run.id == run["id"]).values(config=merged, early_stopping=policy))
    if again:
        decisions.rejudge(conn, after=after)
    return after


def _select_runs():  # type: ignore[no-untyped-def]
    return select(Run.__table__, Project.name.label("project_name")).join(Project, Project.id == Run.project_id)


# Built once: every ingest reads its run, and building the statement costs more than running it.
_GET_RUN = _select_runs().where(Run.id == bindparam("run_id"))


def get_run(conn: Connection, *, run_id: str) -> dict[str, Any]:
    row = conn.execute(_GET_RUN, {"run_id": run_id}).first()
    if row is None:
        raise NotFound(f"no run with id {run_id!r}")
    return run_dict(row, row.project_name)


def list_runs(
    engine: Engine,
    *,
    project: str | None = None,
    status: str | None = None,
    limit: int = 1000,
    offset: int = 0,
    stale_after: float = 600.0,
) -> list[dict[str, Any]]:
    return page_runs(engine, project=project, status=status, limit=limit, offset=offset, stale_after=stale_after)[0]


def page_runs(
    engine: Engine,
    *,
    project: str | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
    stale_after: float = 600.0,
) -> tuple[list[dict[str, Any]], int]:
    """One page of runs, newest first, and how many match in all. `stale` is a running run gone silent."""
    now = time.time()
    q = _select_runs()
    if project:
        q = q.where(Project.name == project)
    if status:
        silent = func.coalesce(Run.last_seen_at, Run.created_at) < now - stale_after
        if status == STALE:
            q = q.where(and_(Run.status == "running", silent))
        elif status == "running":
            q = q.where(and_(Run.status == "running", not_(silent)))
        else:
            q = q.where(Run.status == status)
    # The id breaks ties between runs created in the same instant, so pages neither skip nor repeat.
    page = q.order_by(Run.created_at.desc(), Run.id).limit(limit).offset(offset)
    with engine.connect() as conn:
        total = conn.scalar(select(func.count()).select_from(q.subquery())) or 0
        found = [shown(run_dict(r, r.project_name), now=now, stale_after=stale_after) for r in conn.execute(page)]
        return found, int(total)


def delete_run(engine: Engine, *, run_id: str) -> None:
    """Delete a run with everything it holds (points, summaries, decisions, mirror cursors, batch ids).

    The foreign keys cascade; the points go first, key by key, so SQLite's cascade does not have to
    find them through a scan per key."""
    with writer(engine).begin() as conn:
        conn.execute(select(Run.id).where(Run.id == run_id).with_for_update()).first()
        get_run(conn, run_id=run_id)
        kids = conn.execute(select(MetricKey.id).where(MetricKey.run_id == run_id)).scalars().all()
        for kid in kids:
            conn.execute(delete(MetricPoint).where(MetricPoint.key_id == kid))
        conn.execute(delete(Run).where(Run.id == run_id))


def heartbeat(engine: Engine, *, run_id: str) -> dict[str, Any]:
    """The trainer is alive but has nothing to log (a long evaluation): note it, nothing more."""
    with writer(engine).begin() as conn:
        get_run(conn, run_id=run_id)
        touch(conn, run_id=run_id, now=time.time())
        return get_run(conn, run_id=run_id)


def set_status(engine: Engine, *, run_id: str, status: str) -> dict[str, Any]:
    return update_run(engine, run_id=run_id, status=status)


def update_run(
    engine: Engine, *, run_id: str, status: str | None = None, best_checkpoint: dict[str, Any] | None = None
) -> dict[str, Any]:
    """How the run ended and/or where its best weights are; what is not given stays."""
    if status is not None and status not in STATUSES:
        raise Invalid(f"status must be one of {', '.join(STATUSES)}")
    now = time.time()
    values: dict[str, Any] = {}
    if status is not None:
        values.update(status=status, ended_at=None if status == "running" else now)
        if status == "running":
            values["last_seen_at"] = now
    if best_checkpoint is not None:
        values["best_checkpoint"] = {"step": int(best_checkpoint["step"]), "path": str(best_checkpoint["path"])}
    with writer(engine).begin() as conn:
        conn.execute(select(Run.id).where(Run.id == run_id).with_for_update()).first()
        before = get_run(conn, run_id=run_id)
        if values:
            conn.execute(update(Run).where(Run.id == run_id).values(**values))
        run = get_run(conn, run_id=run_id)
        if status == "finished" and before["status"] != "finished":
            # In this transaction: the run cannot end without its message being on its way.
            outbox.run_finished(conn, run=run, decision=lambda: decisions.current(conn, run), now=now)
        return run


def request_stop(engine: Engine, *, run_id: str, reason: str | None) -> Decision:
    """A person asks the run to stop; the next decision the trainer reads says `manual`."""
    with writer(engine).begin() as conn:
        conn.execute(select(Run.id).where(Run.id == run_id).with_for_update()).first()
        get_run(conn, run_id=run_id)
        why = (reason or "").strip()[:500] or "stop requested by a person"
        conn.execute(update(Run).where(Run.id == run_id).values(stop_requested=why))
        run = get_run(conn, run_id=run_id)
        decision = decisions.current(conn, run)
        decisions.record(conn, run_id, decision)
        return decision
