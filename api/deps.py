"""What routes get from the app: the engine and the settings, built once in the lifespan.

`async def` on purpose: FastAPI runs a plain `def` dependency in its thread pool, and a thread hop per
dependency per request cost more than the ingest of a small batch; these only read app state.
"""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import Engine

from losswatch.monitor.settings import Settings
from losswatch.monitor.store.cache import SeriesCache


async def engine(request: Request) -> Engine:
    return request.app.state.engine


async def settings(request: Request) -> Settings:
    return request.app.state.settings


async def series_cache(request: Request) -> SeriesCache:
    return request.app.state.series_cache
