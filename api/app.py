"""The app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from losswatch.api import auth
from losswatch.api.limits import BodyLimit
from losswatch.api.observability import AccessLog, Metrics
from losswatch.api.routes import (
    decisions,
    diagnostics,
    docs,
    export,
    health,
    metrics,
    ops,
    pages,
    runs,
    tokens,
    vocabulary,
)
from losswatch.api.schemas import ERROR_RESPONSES
from losswatch.monitor import errors
from losswatch.monitor.db import make_engine, prepare
from losswatch.monitor.mirrors.worker import start_worker, stop_worker
from losswatch.monitor.settings import Settings
from losswatch.monitor.store.cache import SeriesCache

STATUS = {
    errors.NotFound: 404,
    errors.Invalid: 422,
    errors.Conflict: 409,
    errors.LimitExceeded: 413,
    errors.SchemaBehind: 503,
}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.url)
        prepare(engine, settings.url)
        app.state.engine = engine
        mirror_worker = start_worker(engine, settings)
        try:
            yield
        finally:
            stop_worker(mirror_worker)
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
    app.state.metrics = Metrics(lambda: getattr(app.state, "engine", None))
    app.add_middleware(AccessLog, metrics=app.state.metrics)

    @app.exception_handler(errors.LossWatchError)
    async def _domain_error(_: Request, exc: errors.LossWatchError) -> JSONResponse:
        code = next((c for t, c in STATUS.items() if isinstance(exc, t)), 400)
        return JSONResponse({"detail": str(exc)}, status_code=code)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> Response:
        # A body that is not JSON at all is malformed (400, as documented); wrong data in good JSON is 422.
        broken = next((e for e in exc.errors() if e.get("type") == "json_invalid"), None)
        if broken is not None:
            why = (broken.get("ctx") or {}).get("error", "")
            return JSONResponse({"detail": f"the body is not valid JSON: {why}".rstrip(": ")}, status_code=400)
        return await request_validation_exception_handler(request, exc)

    guarded = [Depends(auth.guard)]
    for module in (runs, metrics, decisions, diagnostics, tokens):
        app.include_router(module.router, prefix="/api/v1", dependencies=guarded, responses=ERROR_RESPONSES)
    app.include_router(vocabulary.router, prefix="/api/v1")
    app.include_router(health.router, responses={503: {"description": "database unreachable"}})
    app.include_router(ops.router)
    app.include_router(pages.router)
    app.include_router(docs.router)
    app.include_router(export.router, prefix="/api/v1", dependencies=guarded, responses=ERROR_RESPONSES)
    return app
