"""A client for any training loop: `log` enqueues, a background thread batches and sends.

Fail-open: when the service cannot be reached, training goes on, the failure is said once, and the
points wait (in memory, bounded) to be sent when it answers again.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
import time
import uuid
from collections import deque
from typing import Any

import httpx

log = logging.getLogger("losswatch")

_SPELL = {math.inf: "Infinity", -math.inf: "-Infinity"}


def wire(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    return _SPELL.get(value, value)


class LossWatchClient:
    """`log(step, metrics)`, `decision()`, `close()`; the run is created on first contact."""

    def __init__(
        self,
        url: str | None = None,
        *,
        project: str | None = None,
        run_name: str | None = None,
        run_id: str | None = None,
        early_stopping: dict[str, Any] | None = None,
        token: str | None = None,
        config: dict[str, Any] | None = None,
        batch_size: int = 500,
        flush_interval: float = 0.5,
        timeout: float = 5.0,
        max_pending: int = 1_000_000,
    ) -> None:
        self.url = (url or os.environ.get("LOSSWATCH_URL") or "http://127.0.0.1:8000").rstrip("/")
        self.project = project or os.environ.get("LOSSWATCH_PROJECT") or "default"
        self.run_name = run_name or os.environ.get("LOSSWATCH_RUN_NAME") or "run"
        self.run_id = run_id or uuid.uuid4().hex[:16]
        token = token or os.environ.get("LOSSWATCH_TOKEN")
        self.early_stopping = early_stopping
        self.config = config or {}
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, timeout=timeout, headers=headers)
        self._queue: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._pending: deque[dict[str, Any]] = deque()
        self._created = False
        self._seq = 0
        self._enqueued = 0
        self._sent = 0
        self._sent_cond = threading.Condition()
        self._decision: dict[str, Any] | None = None
        self._warned = False
        self._healthy = True
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="losswatch-sender", daemon=True)
        self._thread.start()

    # -- the training side: cheap, never raising --------------------------------------------------
    def log(self, step: int, metrics: dict[str, Any]) -> None:
        try:
            for key, value in metrics.items():
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    continue
                self._queue.put({"key": str(key), "step": int(step), "value": wire(float(value)),
                                 "time": time.time()})
                self._enqueued += 1
        except Exception:  # noqa: BLE001 - the training loop must never see our errors
            self._warn("could not enqueue metrics")

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until everything logged so far has been sent; False if the time ran out."""
        target = self._enqueued
        deadline = time.monotonic() + timeout
        with self._sent_cond:
            # While the service is failing, waiting would only slow training down.
            while self._sent < target and self._healthy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._sent_cond.wait(left)
        return True

    def decision(self, timeout: float = 2.0) -> dict[str, Any] | None:
        """The service's latest decision after a flush; None when the service did not answer."""
        self.flush(timeout)
        return self._decision

    def set_status(self, status: str) -> None:
        try:
            self._http.patch(f"/api/v1/runs/{self.run_id}", json={"status": status})
        except Exception:  # noqa: BLE001
            self._warn("could not set the run status")

    def close(self, timeout: float = 5.0) -> None:
        if self._closed:
            return
        self.flush(timeout)
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout=1.0)
        self._http.close()

    # -- the sender thread ---------------------------------------------------------------------
    def _loop(self) -> None:
        backoff = 0.2
        while True:
            stop = self._drain()
            if self._pending:
                if self._send_pending():
                    backoff = 0.2
                else:
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
            if stop:
                return

    def _drain(self) -> bool:
        """Move queued points to pending; wait up to flush_interval for the first one."""
        try:
            item = self._queue.get(timeout=self.flush_interval if not self._pending else 0.01)
        except queue.Empty:
            return False
        while True:
            if item is None:
                return True
            if len(self._pending) < self.max_pending:
                self._pending.append(item)
            else:
                self._mark_sent(1)  # dropped: bounded memory beats an out-of-memory training process
                self._warn(f"more than {self.max_pending} points waiting; dropping the oldest")
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return False

    def _send_pending(self) -> bool:
        try:
            if not self._created:
                self._create_run()
            while self._pending:
                batch = [self._pending[i] for i in range(min(self.batch_size, len(self._pending)))]
                batch_id = f"{self.run_id}-{self._seq}"
                r = self._http.post(f"/api/v1/runs/{self.run_id}/metrics",
                                    json={"points": batch, "batch_id": batch_id})
                if r.status_code >= 500 or r.status_code in (401, 403, 404, 408, 429):
                    raise httpx.HTTPStatusError(f"{r.status_code}: {r.text[:200]}", request=r.request, response=r)
                if r.status_code >= 400:
                    # The service refused the data itself; retrying cannot help, so drop it and say why.
                    self._warn(f"the service rejected a batch: {r.status_code} {r.text[:200]}")
                else:
                    self._decision = r.json().get("decision")
                for _ in batch:
                    self._pending.popleft()
                self._seq += 1
                self._healthy = True
                self._mark_sent(len(batch))
            return True
        except Exception as exc:  # noqa: BLE001
            with self._sent_cond:
                self._healthy = False
                self._sent_cond.notify_all()
            self._warn(f"cannot reach losswatch at {self.url} ({exc.__class__.__name__}); training goes on")
            return False

    def _create_run(self) -> None:
        body: dict[str, Any] = {"id": self.run_id, "project": self.project, "name": self.run_name,
                                "config": self.config}
        if self.early_stopping is not None:
            body["early_stopping"] = self.early_stopping
        r = self._http.post("/api/v1/runs", json=body)
        if r.status_code not in (200, 201):
            raise httpx.HTTPStatusError(f"{r.status_code}: {r.text[:200]}", request=r.request, response=r)
        self._created = True

    def _mark_sent(self, n: int) -> None:
        with self._sent_cond:
            self._sent += n
            self._sent_cond.notify_all()

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning("losswatch: %s", message)
