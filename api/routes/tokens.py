"""Token management for admin tokens (the CLI does the same on the server's own database)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from losswatch.api import auth, deps
from losswatch.api.schemas import TokenId
from losswatch.monitor.store import tokens
from losswatch.monitor.store.tokens import Principal

router = APIRouter(tags=["tokens"])


class TokenCreate(BaseModel):
    name: str = Field(default="token", min_length=1, max_length=200)
    scopes: list[str] = Field(min_length=1, max_length=3)
    project: str | None = Field(default=None, min_length=1, max_length=200)


@router.post("/tokens", status_code=201)
def create_token(
    body: TokenCreate, engine: Engine = Depends(deps.engine), who: Principal | None = Depends(auth.principal)
) -> dict[str, Any]:
    """Create an API token for a project; the secret is in this answer only (stored hashed)."""
    project = body.project or (who.project if who else "default")
    auth.check_project(who, project)
    info, secret = tokens.create_token(
        engine, project=project, scopes=tokens.parse_scopes(",".join(body.scopes)), name=body.name
    )
    return {**info, "token": secret}


@router.get("/tokens")
def list_tokens(
    engine: Engine = Depends(deps.engine), who: Principal | None = Depends(auth.principal)
) -> dict[str, Any]:
    """The tokens the caller may see, without their secrets."""
    return {"tokens": tokens.list_tokens(engine, project=who.project if who else None)}


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(
    token_id: TokenId, engine: Engine = Depends(deps.engine), who: Principal | None = Depends(auth.principal)
) -> None:
    """Revoke a token: it stops working at once."""
    tokens.revoke_token(engine, token_id=token_id, project=who.project if who else None)
