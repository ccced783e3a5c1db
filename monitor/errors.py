"""Domain errors. The API maps them to HTTP codes at its edge; nothing here knows about HTTP."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class LossWatchError(Exception):
    """Base of every error the store and the engine raise on purpose."""


class NotFound(LossWatchError):
    pass


class Invalid(LossWatchError):
    """The request is well-formed but asks for something that cannot be done."""


class Conflict(LossWatchError):
    pass


class LimitExceeded(LossWatchError):
    pass


class SchemaBehind(LossWatchError):
    pass


class Busy(LossWatchError):
    """The database is taken by other writes for longer than a request may wait; a retry will find it free."""


class Deferred(Exception):
    """A batch's estimated work is beyond what its caller may spend where it runs (the event loop): nothing was
    committed, and the caller runs it again where it may wait (a worker thread). Never reaches a client."""


def field_errors(errors: Iterable[Mapping[str, Any]], *, skip: int = 0, whole: str = "") -> str:
    """pydantic's field errors (as FastAPI sends them, or `ValidationError.errors()`) in one line for a person:
    where (past the first `skip` parts: FastAPI's "body" or "query"; `whole` when that leaves nothing), what,
    and what was sent."""
    return "; ".join(
        f"{'.'.join(str(p) for p in list(e.get('loc', []))[skip:]) or whole}: {e['msg']} (got {e.get('input')!r})"
        for e in errors
    )
