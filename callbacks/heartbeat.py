"""A light sign of life while training runs but logs nothing (a long evaluation), so the service does
not call a slow run dead. At most one tiny request per a quarter of the service's `stale_after`,
sent from the sender's thread, never from the training thread."""

from __future__ import annotations

import time
from typing import Any

import httpx

FIRST_INTERVAL = 60.0  # until the service says its stale_after
MIN_INTERVAL = 1.0


class Heartbeat:
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.interval = FIRST_INTERVAL
        self._last = time.monotonic()
        self._asked = False  # the first heartbeat goes at once: its answer says how often to send them

    def seen(self) -> None:
        """Anything delivered counts as a heartbeat."""
        self._last = time.monotonic()

    def learn(self, stale_after: Any) -> None:
        """The service said its `stale_after` (a heartbeat's answer, or a run's creation answer, which spares
        the first heartbeat); anything but a positive number is ignored."""
        if isinstance(stale_after, bool) or not isinstance(stale_after, (int, float)) or not stale_after > 0:
            return
        self.interval = max(MIN_INTERVAL, float(stale_after) / 4)
        self._asked = True

    def maybe(self, http: httpx.Client) -> None:
        if self._asked and time.monotonic() - self._last < self.interval:
            return
        self._asked = True
        self._last = time.monotonic()
        try:
            r = http.post(f"/api/v1/runs/{self.run_id}/heartbeat", json={})
            if r.status_code == 200:
                self.learn(r.json().get("stale_after"))
        except (httpx.HTTPError, ValueError, AttributeError):
            pass  # an older service, or a blip: the next delivery attempt notices what matters
