"""What routes get from the app: the engine and the settings, built once in the lifespan."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import Engine

from losswatch.monitor.settings import Settings
from losswatch.monitor.store.cache import SeriesCache


def engine(request: Request) -> Engine:
    return request.app.state.engine


def settings(request: Request) -> Settings:
    return request.app.state.settings


def series_cache(request: Request) -> SeriesCache:
    return request.app.state.series_cache
