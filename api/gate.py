"""One SQLite database takes one write at a time: this process's writes queue for it here, first come first served.

Left to SQLite, threads that find the lock taken poll for it, sleeping longer after each miss (up to 100 ms), and
whoever polls at the right moment wins: under eight writers a 15 ms batch waited up to 5 s, and one that kept
losing ran out of `busy_timeout` and was answered 503 while the database did less than a second of work. An
asyncio lock wakes its waiters in the order they came, so a write waits for the ones queued before it and no
longer. Writers in other processes still meet SQLite's own lock, as before. PostgreSQL locks per row and has
no gate: writes to different runs go on at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import make_url

from losswatch.monitor.errors import Busy


class WriteGate:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """Hold the gate for one write; Busy when the writes queued before it take longer than `timeout`."""
        try:
            await asyncio.wait_for(self._lock.acquire(), self.timeout)
        except (TimeoutError, asyncio.TimeoutError) as exc:  # not yet the same class on Python 3.10
            raise Busy(f"the database is busy with other writes (waited {self.timeout:g} s); retry shortly") from exc
        try:
            yield
        finally:
            self._lock.release()


def write_gate(url: str, timeout: float) -> WriteGate | None:
    """The gate for a SQLite database; None for PostgreSQL."""
    return WriteGate(timeout) if make_url(url).get_backend_name() == "sqlite" else None


@asynccontextmanager
async def held(gate: WriteGate | None) -> AsyncIterator[None]:
    """`gate.held()`, or nothing without a gate."""
    if gate is None:
        yield
        return
    async with gate.held():
        yield
