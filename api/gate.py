"""One SQLite database takes one write at a time: this process's writes queue for it here, first come first served,
with a person's and a client's small control writes (stop, status, heartbeat, a new run) ahead of queued ingests.

Left to SQLite, threads that find the lock taken poll for it, sleeping longer after each miss (up to 100 ms), and
whoever polls at the right moment wins: under eight writers a 15 ms batch waited up to 5 s, and one that kept
losing ran out of `busy_timeout` and was answered 503 while the database did less than a second of work. Here a
write waits for the ones queued before it and no longer. An urgent write waits only for the one being written
and other urgent ones: behind eight writers whose late evaluations each replayed half a second of checks, a stop
queued behind all of them waited 4-7 s, and one in six ran out of `busy_timeout`. Writers in other processes
still meet SQLite's own lock, as before. PostgreSQL locks per row and has no gate: writes to different runs go on
at once.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import make_url

from losswatch.monitor.errors import Busy


class WriteGate:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._held = False
        # Waiters in the order they came, urgent ones first; release hands the gate to the first (it stays held).
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._ordinary: deque[asyncio.Future[None]] = deque()

    @asynccontextmanager
    async def held(self, *, urgent: bool = False) -> AsyncIterator[None]:
        """Hold the gate for one write; Busy when the writes queued before it take longer than `timeout`."""
        await self._acquire(urgent)
        try:
            yield
        finally:
            self._release()

    def waiting(self) -> int:
        return sum(not f.done() for f in (*self._urgent, *self._ordinary))

    async def _acquire(self, urgent: bool) -> None:
        if not self._held and not self.waiting():
            self._held = True
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._ordinary).append(turn)
        try:
            # asyncio.wait, not wait_for: on a timeout the turn must not be cancelled while release may be
            # handing it over in the same loop iteration; it is settled below, in one step.
            await asyncio.wait((turn,), timeout=self.timeout)
        except BaseException:  # the request was cancelled while it waited
            self._give_up(turn)
            raise
        if not turn.done():
            self._give_up(turn)
            raise Busy(f"the database is busy with other writes (waited {self.timeout:g} s); retry shortly")

    def _give_up(self, turn: asyncio.Future[None]) -> None:
        if turn.done() and not turn.cancelled():
            self._release()  # handed the gate just as it gave up: pass it on
        else:
            turn.cancel()

    def _release(self) -> None:
        for queue in (self._urgent, self._ordinary):
            while queue:
                turn = queue.popleft()
                if not turn.done():
                    turn.set_result(None)
                    return
        self._held = False


def write_gate(url: str, timeout: float) -> WriteGate | None:
    """The gate for a SQLite database; None for PostgreSQL."""
    return WriteGate(timeout) if make_url(url).get_backend_name() == "sqlite" else None


@asynccontextmanager
async def held(gate: WriteGate | None, *, urgent: bool = False) -> AsyncIterator[None]:
    """`gate.held()`, or nothing without a gate."""
    if gate is None:
        yield
        return
    async with gate.held(urgent=urgent):
        yield
