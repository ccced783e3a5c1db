"""A project's notification targets: read (URLs masked), replaced as a whole, or tried with a test message."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, delete, insert, select, update

from losswatch.monitor.db import writer
from losswatch.monitor.errors import Invalid, LimitExceeded, NotFound
from losswatch.monitor.models import NotificationTarget, Project
from losswatch.monitor.notify import EVENTS, KINDS, LANGS, outbox
from losswatch.monitor.store.projects import ensure_project


@dataclass(frozen=True)
class TargetIn:
    """One target as a person sends it. `id` with no `url` keeps the stored URL (GET never shows it whole)."""

    kind: str
    events: list[str]
    lang: str = "en"
    url: str | None = None
    id: int | None = None


def mask(url: str) -> str:
    """The scheme and host, and the last 4 characters when the rest is long enough to keep a secret."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    try:
        if parts.port:
            host = f"{host}:{parts.port}"
    except ValueError:
        pass
    rest = url.split(parts.netloc, 1)[-1] if parts.netloc else url
    tail = rest[-4:] if len(rest) >= 16 else ""
    return f"{parts.scheme}://{host}/…{tail}"


def check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError as exc:
        raise Invalid(f"url is not a valid address: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("url must be an http:// or https:// address with a host")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise Invalid("url must not contain spaces or control characters")


def _project_id(conn: Connection, project: str) -> int | None:
    return conn.scalar(select(Project.id).where(Project.name == project))


def _out(row: Any) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "url": mask(row.url), "events": list(row.events), "lang": row.lang}


def list_targets(conn: Connection, *, project: str) -> list[dict[str, Any]]:
    pid = _project_id(conn, project)
    if pid is None:
        return []
    rows = conn.execute(
        select(NotificationTarget.__table__).where(NotificationTarget.project_id == pid).order_by(NotificationTarget.id)
    )
    return [_out(r) for r in rows]


def _validate(t: TargetIn, i: int) -> None:
    where = f"targets[{i}]"
    if t.kind not in KINDS:
        raise Invalid(f"{where}.kind must be one of {', '.join(KINDS)}")
    if t.lang not in LANGS:
        raise Invalid(f"{where}.lang must be one of {', '.join(LANGS)}")
    if not t.events:
        raise Invalid(f"{where}.events is empty: name at least one of {', '.join(EVENTS)}")
    unknown = [e for e in t.events if e not in EVENTS]
    if unknown:
        raise Invalid(f"{where}.events: unknown {', '.join(map(repr, unknown))}; known: {', '.join(EVENTS)}")
    if t.url is not None:
        try:
            check_url(t.url)
        except Invalid as exc:
            raise Invalid(f"{where}.{exc}") from exc


def replace_targets(engine: Engine, *, project: str, targets: list[TargetIn], limit: int) -> list[dict[str, Any]]:
    """Make the project's targets exactly `targets`. Targets left out are removed with their pending messages."""
    if len(targets) > limit:
        raise LimitExceeded(f"a project may have at most {limit} notification targets (notify_max_targets)")
    for i, t in enumerate(targets):
        _validate(t, i)
    now = time.time()
    with writer(engine).begin() as conn:
        pid = ensure_project(conn, project)
        table = NotificationTarget
        stored = {r.id: r for r in conn.execute(select(NotificationTarget.__table__).where(table.project_id == pid))}
        keep: set[int] = set()
        for i, t in enumerate(targets):
            if t.id is None:
                if t.url is None:
                    raise Invalid(f"targets[{i}].url is required for a new target")
                conn.execute(
                    insert(table).values(
                        project_id=pid,
                        kind=t.kind,
                        url=t.url,
                        events=list(dict.fromkeys(t.events)),
                        lang=t.lang,
                        created_at=now,
                    )
                )
                continue
            old = stored.get(t.id)
            if old is None:
                raise Invalid(f"targets[{i}].id: project {project!r} has no target {t.id}")
            if t.url is None and t.kind != old.kind:
                raise Invalid(f"targets[{i}]: a new kind needs its url (the stored one is a {old.kind} address)")
            keep.add(t.id)
            conn.execute(
                update(table)
                .where(table.id == t.id)
                .values(kind=t.kind, url=t.url or old.url, events=list(dict.fromkeys(t.events)), lang=t.lang)
            )
        gone = [i for i in stored if i not in keep]
        if gone:
            conn.execute(delete(table).where(table.id.in_(gone)))
        rows = conn.execute(select(NotificationTarget.__table__).where(table.project_id == pid).order_by(table.id))
        return [_out(r) for r in rows]


def send_test(engine: Engine, *, project: str, target_id: int | None = None) -> list[str]:
    """Queue a test message to one target, or to every target of the project; returns the message ids."""
    with writer(engine).begin() as conn:
        pid = _project_id(conn, project)
        ids = [] if pid is None else [t["id"] for t in list_targets(conn, project=project)]
        if target_id is not None:
            if target_id not in ids:
                raise NotFound(f"project {project!r} has no notification target {target_id}")
            ids = [target_id]
        if not ids or pid is None:
            raise Invalid(f"project {project!r} has no notification targets to test")
        return outbox.test_message(conn, project_id=pid, target_ids=ids, now=time.time())


def deliveries(conn: Connection, *, project: str, limit: int = 50) -> list[dict[str, Any]]:
    pid = _project_id(conn, project)
    return [] if pid is None else outbox.messages(conn, project_id=pid, limit=limit)
