"""Projects: the namespace of runs and tokens. Kept apart so that token commands load no stopping code."""

from __future__ import annotations

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from losswatch.monitor.db import inserted_id
from losswatch.monitor.models import Project


def ensure_project(conn: Connection, name: str) -> int:
    pid = conn.scalar(select(Project.id).where(Project.name == name))
    if pid is None:
        try:
            # A savepoint, so that losing a race with another writer creating the same project
            # (PostgreSQL, several workers) leaves this transaction usable.
            with conn.begin_nested():
                return inserted_id(conn.execute(Project.__table__.insert().values(name=name)))
        except IntegrityError:
            pid = conn.scalar(select(Project.id).where(Project.name == name))
    if pid is None:
        raise RuntimeError(f"project {name!r} neither created nor found")
    return int(pid)
