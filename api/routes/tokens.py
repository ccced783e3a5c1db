"""Token management for admin tokens (the CLI does the same on the server's own database).

With auth off nobody is authenticated, so nobody may mint a token over HTTP: a token made then would
outlive the switch to `--auth required` (and a rebinding web page could make itself an admin one)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import Field
from sqlalchemy import Engine

from losswatch.api import auth, deps
from losswatch.api.schemas import Storable, TokenId
from losswatch.monitor.settings import Settings
from losswatch.monitor.store import tokens
from losswatch.monitor.store.tokens import Principal

router = APIRouter(tags=["tokens"])


class TokenCreate(Storable):
    name: str = Field(default="token", min_length=1, max_length=200)
    scopes: list[str] = Field(min_length=1, max_length=3)
    project: str | None = Field(default=None, min_length=1, max_length=200)


@router.post("/tokens", status_code=201, dependencies=[deps.write_turn])
@auth.needs("admin")
def create_token(
    body: TokenCreate,
    engine: Engine = Depends(deps.engine),
    who: Principal | None = Depends(auth.principal),
    settings: Settings = Depends(deps.settings),
) -> dict[str, Any]:
    """Create an API token for a project; the secret is in this answer only (stored hashed)."""
    if settings.auth == "off":
        raise HTTPException(
            403,
            "auth is off, so tokens are not minted over HTTP: run `losswatch token create` on the server's "
            "machine, then serve with --auth required",
        )
    project = body.project or (who.project if who else "default")
    auth.check_project(who, project)
    info, secret = tokens.create_token(
        engine, project=project, scopes=tokens.parse_scopes(",".join(body.scopes)), name=body.name
    )
    return {**info, "token": secret}


@router.get("/tokens")
@auth.needs("admin")
def list_tokens(
    engine: Engine = Depends(deps.engine), who: Principal | None = Depends(auth.principal)
) -> dict[str, Any]:
    """The tokens the caller may see, without their secrets."""
    return {"tokens": tokens.list_tokens(engine, project=who.project if who else None)}


@router.delete("/tokens/{token_id}", status_code=204, dependencies=[deps.write_turn])
@auth.needs("admin")
def revoke_token(
    token_id: TokenId, engine: Engine = Depends(deps.engine), who: Principal | None = Depends(auth.principal)
) -> None:
    """Revoke a token: it stops working at once."""
    tokens.revoke_token(engine, token_id=token_id, project=who.project if who else None)
