"""API tokens: created with a secret shown once, stored hashed, scoped to one project."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select, update

from losswatch.monitor.db import inserted_id, writer
from losswatch.monitor.errors import Invalid, NotFound
from losswatch.monitor.models import ApiToken, Project
from losswatch.monitor.store.projects import ensure_project

SCOPES = ("read", "write", "admin")
# What each scope may do: admin manages tokens and implies write, write implies read.
IMPLIES = {"read": {"read"}, "write": {"read", "write"}, "admin": {"read", "write", "admin"}}


@dataclass(frozen=True)
class Principal:
    token_id: int
    project: str
    scopes: frozenset[str]

    def may(self, scope: str) -> bool:
        return scope in self.scopes


def _hash(secret: str) -> str:
    # The secret has 256 bits of entropy, so a plain SHA-256 cannot be brute-forced; no slow KDF needed.
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(text: str) -> list[str]:
    scopes = sorted({s.strip() for s in text.split(",") if s.strip()})
    bad = [s for s in scopes if s not in SCOPES]
    if not scopes or bad:
        raise Invalid(f"scopes must be a comma-separated subset of {', '.join(SCOPES)}; got {text!r}")
    return scopes


def create_token(engine: Engine, *, project: str, scopes: list[str], name: str = "token") -> tuple[dict[str, Any], str]:
    secret = "lw_" + secrets.token_urlsafe(32)
    with writer(engine).begin() as conn:
        pid = ensure_project(conn, project)
        tid = inserted_id(
            conn.execute(
                ApiToken.__table__.insert().values(
                    project_id=pid, name=name, token_hash=_hash(secret), scopes=",".join(scopes), created_at=time.time()
                )
            )
        )
    return {"id": int(tid), "project": project, "name": name, "scopes": scopes}, secret


def list_tokens(engine: Engine, *, project: str | None = None) -> list[dict[str, Any]]:
    q = select(ApiToken.__table__, Project.name.label("project")).join(Project, Project.id == ApiToken.project_id)
    if project:
        q = q.where(Project.name == project)
    with engine.connect() as conn:
        return [
            {
                "id": r.id,
                "project": r.project,
                "name": r.name,
                "scopes": r.scopes.split(","),
                "created_at": r.created_at,
                "revoked_at": r.revoked_at,
            }
            for r in conn.execute(q.order_by(ApiToken.id))
        ]


def revoke_token(engine: Engine, *, token_id: int, project: str | None = None) -> None:
    with writer(engine).begin() as conn:
        q = (
            select(ApiToken.id, Project.name)
            .join(Project, Project.id == ApiToken.project_id)
            .where(ApiToken.id == token_id)
        )
        row = conn.execute(q).first()
        if row is None or (project is not None and row.name != project):
            raise NotFound(f"no token with id {token_id}")
        conn.execute(update(ApiToken).where(ApiToken.id == token_id).values(revoked_at=time.time()))


def authenticate(engine: Engine, *, secret: str) -> Principal | None:
    q = (
        select(ApiToken.id, ApiToken.scopes, ApiToken.revoked_at, Project.name)
        .join(Project, Project.id == ApiToken.project_id)
        .where(ApiToken.token_hash == _hash(secret))
    )
    with engine.connect() as conn:
        row = conn.execute(q).first()
    if row is None or row.revoked_at is not None:
        return None
    granted: set[str] = set()
    for s in row.scopes.split(","):
        granted |= IMPLIES.get(s, set())
    return Principal(int(row.id), row.name, frozenset(granted))


def any_token(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(ApiToken.id).where(ApiToken.revoked_at.is_(None)).limit(1)).first() is not None
