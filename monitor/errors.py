"""Domain errors. The API maps them to HTTP codes at its edge; nothing here knows about HTTP."""

from __future__ import annotations


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
