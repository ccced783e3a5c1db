"""How errors leave the service: domain errors as 4xx, a busy database as 503, never a traceback.

A 422 names the field and the problem but does not echo what was sent when that is large or is not
text a JSON answer can carry (an unpaired surrogate would turn the 422 itself into a 500).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from losswatch.monitor import errors

STATUS = {
    errors.NotFound: 404,
    errors.Invalid: 422,
    errors.Conflict: 409,
    errors.LimitExceeded: 413,
    errors.SchemaBehind: 503,
    errors.Busy: 503,
}
ECHO_MAX = 200
RETRY_AFTER = "1"
# SQLite's busy lock; PostgreSQL's lock_timeout (55P03) and a statement cancelled by its timeout (57014).
BUSY_SQLITE = ("database is locked", "database table is locked")
BUSY_PG = ("55P03", "57014")


def _safe(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_safe(k): _safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_safe(v) for v in value]
    return value


def validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        err = dict(err)
        given = err.pop("input", None)
        if isinstance(given, int | float | bool) or (isinstance(given, str) and len(given) <= ECHO_MAX):
            err["input"] = given
        err.pop("url", None)
        out.append(_safe(jsonable_encoder(err, custom_encoder={Exception: str})))
    return out


def is_busy(exc: OperationalError) -> bool:
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code in BUSY_PG or any(m in str(exc.orig) for m in BUSY_SQLITE)


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.LossWatchError)
    async def _domain_error(_: Request, exc: errors.LossWatchError) -> JSONResponse:
        code = next((c for t, c in STATUS.items() if isinstance(exc, t)), 400)
        headers = {"Retry-After": RETRY_AFTER} if isinstance(exc, errors.Busy) else None
        return JSONResponse({"detail": _safe(str(exc))}, status_code=code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # A body that is not JSON at all is malformed (400, as documented); wrong data in good JSON is 422.
        broken = next((e for e in exc.errors() if e.get("type") == "json_invalid"), None)
        if broken is not None:
            why = _safe(str((broken.get("ctx") or {}).get("error", "")))
            return JSONResponse({"detail": f"the body is not valid JSON: {why}".rstrip(": ")}, status_code=400)
        return JSONResponse({"detail": validation_detail(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        # FastAPI answers any failure to read a JSON body with one sentence; say which it was.
        cause = exc.__cause__
        if exc.status_code == 400 and isinstance(cause, RecursionError):
            return JSONResponse({"detail": "the JSON body is nested too deeply to read"}, status_code=400)
        if exc.status_code == 400 and isinstance(cause, ValueError) and "digits" in str(cause):
            limit = str(cause).split(":")[0]  # "Exceeds the limit (4300 digits) for integer string conversion"
            return JSONResponse({"detail": f"a number in the JSON body is too long to read ({limit})"}, status_code=400)
        return await http_exception_handler(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # A bug. The server logs it with its traceback (Starlette re-raises after this answer); the client gets
        # JSON like every other error, and is told the connection closes: uvicorn drops it after an error
        # nobody handled, and a client reusing it would meet a reset instead.
        return JSONResponse(
            {"detail": "internal error: this is a bug in losswatch; the server's log has the details"},
            status_code=500,
            headers={"Connection": "close"},
        )

    @app.exception_handler(OperationalError)
    async def _busy(_: Request, exc: OperationalError) -> JSONResponse:
        if not is_busy(exc):
            raise exc
        return JSONResponse(
            {"detail": "the database is busy with another write; retry shortly"},
            status_code=503,
            headers={"Retry-After": RETRY_AFTER},
        )
