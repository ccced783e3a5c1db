from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import Engine, text

from losswatch.api import deps

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(engine: Engine = Depends(deps.engine)) -> dict[str, str]:
    """The service is up and its database answers."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return {"status": "ok"}
