"""What routes get from the app: the engine and the settings, built once in the lifespan.

`async def` on purpose: FastAPI runs a plain `def` dependency in its thread pool, and a thread hop per
dependency per request cost more than the ingest of a small batch; these only read app state.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Depends, Request
from sqlalchemy import Engine

from losswatch.api import gate
from losswatch.monitor.settings import Settings
from losswatch.monitor.store.cache import SeriesCache


async def engine(request: Request) -> Engine:
    return request.app.state.engine


async def settings(request: Request) -> Settings:
    return request.app.state.settings


async def series_cache(request: Request) -> SeriesCache:
    return request.app.state.series_cache


async def _write_turn(request: Request) -> AsyncIterator[None]:
    async with gate.held(request.app.state.gate):
        yield


async def _urgent_turn(request: Request) -> AsyncIterator[None]:
    async with gate.held(request.app.state.gate, urgent=True):
        yield


# A write route's turn at the SQLite write gate (api/gate.py), held while the route runs and released before
# its answer is sent. Left to SQLite's lock polling, a person's stop lost the lock to queued ingests for
# `busy_timeout` and was answered 503 (5 of 6 under 8 writers).
write_turn = Depends(_write_turn, scope="function")
# Small control writes of bounded cost (a stop, a status, a heartbeat, a new run) go ahead of queued ingests.
urgent_turn = Depends(_urgent_turn, scope="function")
