"""Small SQLite batches written on the event loop, not handed to a worker thread.

The hand-off to a thread and back costs about 0.2 ms a request, a tenth of a 1000-point batch over HTTP
(bench/README.md). A batch whose estimated work (monitor/budget.py) fits in `inline_ms` is written on the
loop instead; the default 5 ms is Python's GIL switch interval, as long as a worker thread holding the GIL
keeps the loop waiting anyway. What could hold the loop longer goes to a thread as before:

- another writer holding SQLite's lock: these connections wait 0 s for it (busy_timeout 0), and the batch is
  written again on a thread, which waits up to `busy_timeout` while the loop serves everyone else;
- checks estimated beyond the budget (a forecast, a long trend window): the store raises Deferred inside the
  transaction, before it commits anything;
- copying the WAL back into the database (a checkpoint syncs the disk): these connections never do it on
  commit; a worker thread does, about as often as SQLite's own 1000-page autocheckpoint would.

PostgreSQL's writes wait on the network, so they always go to a thread.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from losswatch.api.errors import is_busy
from losswatch.monitor.budget import STORE_MS_PER_POINT
from losswatch.monitor.db import make_engine
from losswatch.monitor.errors import Deferred

T = TypeVar("T")
log = logging.getLogger("losswatch")

# WAL frames (pages) a commit of an ingest writes, measured on the schema: about 4, plus one per 100 points.
FRAMES_PER_COMMIT = 4
POINTS_PER_FRAME = 100
CHECKPOINT_FRAMES = 1000  # SQLite's default wal_autocheckpoint


class InlineWriter:
    def __init__(self, url: str, *, budget_ms: float) -> None:
        self.engine = make_engine(url, busy_timeout=0.0, autocheckpoint=False)
        self.budget_ms = budget_ms
        self.batches = 0  # written here, not on a thread
        self._frames = 0

    def attempt(self, write: Callable[[Engine, float], T], points: int) -> T | None:
        """`write(engine, budget_ms)`'s result, or None when the batch must wait for the lock or costs more than
        the budget: nothing of it was committed, and the caller writes it on a thread. A batch whose points
        alone are beyond the budget is not tried (its checks are judged inside the store)."""
        if points * STORE_MS_PER_POINT > self.budget_ms:
            return None
        try:
            result = write(self.engine, self.budget_ms)
        except Deferred:
            return None
        except OperationalError as exc:
            if is_busy(exc):
                return None
            raise
        self.batches += 1
        self._frames += FRAMES_PER_COMMIT + points // POINTS_PER_FRAME
        return result

    def checkpoint_due(self) -> bool:
        """True once per CHECKPOINT_FRAMES frames written here: the caller then runs `checkpoint` on a thread."""
        if self._frames < CHECKPOINT_FRAMES:
            return False
        self._frames = 0
        return True

    def checkpoint(self) -> None:
        """Copy the WAL back into the database. It runs after a batch has committed, so a failure (a disk
        error) is logged, never answered: the batch is stored; the next checkpoint tries again."""
        # PASSIVE: copies what no reader still needs, without waiting for anyone. Outside a transaction, on
        # the driver's own connection (SQLAlchemy would open one first).
        try:
            raw = self.engine.raw_connection()
            try:
                raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").close()
            finally:
                raw.close()
        except (DBAPIError, sqlite3.Error) as exc:
            log.warning("losswatch: WAL checkpoint failed (%s); the next one tries again", exc)

    def dispose(self) -> None:
        self.engine.dispose()


def inline_writer(url: str, budget_ms: float) -> InlineWriter | None:
    """The writer for a file-backed SQLite database with a budget above zero; None otherwise."""
    parsed = make_url(url)
    if budget_ms <= 0 or parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return InlineWriter(url, budget_ms=budget_ms)
