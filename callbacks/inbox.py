"""What the training thread hands the sender thread, in order, without waking it for every logged step.

A queue wakes its reader at every put: with a loss logged at every step, that is a thread switch per step,
each waiting for the GIL while the training loop holds it (`bench/callback_overhead.py`: on_log cost 7.5 ms
per 200 steps that way, 1.2 ms this way). Here a metrics point only lands in the deque, and the sender
collects it on its own clock (at most `flush_interval` later); control items (the run, a status, a rewind,
a flush or stop) wake it at once.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from typing import Any


class Inbox:
    def __init__(self) -> None:
        self._items: deque[tuple[int, Any, float]] = deque()  # appends and pops are atomic: no lock
        self._wake = threading.Event()

    def put(self, ticket: int, item: Any, *, urgent: bool) -> None:
        """`item` with its ticket and the time it was put (time.monotonic), which the sender's flush
        clock starts from."""
        self._items.append((ticket, item, time.monotonic()))
        if urgent:
            self._wake.set()

    def get(self, timeout: float) -> tuple[int, Any, float]:
        """The oldest entry; waits up to `timeout` for an urgent one when there is none. Raises queue.Empty."""
        if not self._items:
            self._wake.wait(timeout)
        # Cleared before reading: a put after this point sets it again, so no urgent item is slept through.
        self._wake.clear()
        return self.get_nowait()

    def get_nowait(self) -> tuple[int, Any, float]:
        try:
            return self._items.popleft()
        except IndexError:
            raise queue.Empty from None
