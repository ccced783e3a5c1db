"""The app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from losswatch.api import auth, errors
from losswatch.api.gate import write_gate
from losswatch.api.inline import inline_writer
from losswatch.api.limits import BodyLimit
from losswatch.api.observability import AccessLog, Metrics
from losswatch.api.routes import (
    decisions,
    diagnostics,
    docs,
    export,
    forecast,
    health,
    metrics,
    notifications,
    ops,
    pages,
    runs,
    tokens,
    vocabulary,
)
from losswatch.api.schemas import ERROR_RESPONSES
from losswatch.api.security import EdgeGuard
from losswatch.monitor.db import make_engine, prepare
from losswatch.monitor.mirrors.worker import start_worker, stop_worker
from losswatch.monitor.notify import worker as notify_worker
from losswatch.monitor.settings import Settings
from losswatch.monitor.store.cache import SeriesCache


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.url, busy_timeout=settings.busy_timeout)
        prepare(engine, settings.url)
        app.state.engine = engine
        app.state.inline = inline_writer(settings.url, settings.inline_ms)
        app.state.gate = write_gate(settings.url, settings.busy_timeout)
        mirror_worker = start_worker(engine, settings)
        notifier = app.state.notify_worker = notify_worker.start_worker(engine, settings)
        if notifier is not None and app.state.inline is not None:
            notifier.watch(app.state.inline.engine)
        try:
            yield
        finally:
            notify_worker.stop_worker(notifier)
            stop_worker(mirror_worker)
            if app.state.inline is not None:
                app.state.inline.dispose()
            engine.dispose()

    app = FastAPI(
        title="losswatch",
        version="0.1.0",
        lifespan=lifespan,
        description="Training monitor and early-stopping service",
        # Served from the package by routes.docs, never from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.series_cache = SeriesCache(settings.series_cache_points)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(EdgeGuard, auth_off=settings.auth == "off", allowed_hosts=settings.allowed_hosts)
    app.state.metrics = Metrics(lambda: getattr(app.state, "engine", None))
    app.add_middleware(AccessLog, metrics=app.state.metrics)
    errors.install(app)

    guarded = [Depends(auth.guard)]
    for module in (runs, metrics, decisions, diagnostics, forecast, tokens, notifications):
        app.include_router(module.router, prefix="/api/v1", dependencies=guarded, responses=ERROR_RESPONSES)
    app.include_router(vocabulary.router, prefix="/api/v1")
    app.include_router(health.router, responses={503: {"description": "database unreachable"}})
    app.include_router(ops.router)
    app.include_router(pages.router)
    app.include_router(docs.router)
    app.include_router(export.router, prefix="/api/v1", dependencies=guarded, responses=ERROR_RESPONSES)
    return app
