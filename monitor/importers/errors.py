"""Errors of the importers: a log that cannot be read, an upload the service refused."""

from __future__ import annotations

from pathlib import Path

from losswatch.monitor.errors import LossWatchError


class LogImportError(LossWatchError):
    """Base of the importers' errors, so the CLI can report any of them in one place."""


class UnreadableLog(LogImportError, ValueError):
    """The file or folder is not a training log this package can read."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot read {self.path}: {reason}")


class UploadError(LogImportError):
    """The losswatch service refused a request, or could not be reached (status is None then)."""

    def __init__(self, action: str, detail: object, status: int | None = None) -> None:
        self.action = action
        self.detail = detail
        self.status = status
        where = f"HTTP {status}" if status is not None else "no response"
        super().__init__(f"{action} failed ({where}): {detail}")
