"""The background sender: batches what the training loop logs, writes it to the spool, delivers it.

Every batch goes to the disk spool first (write-ahead), then to the service; the spool's cursor says
what has been delivered. So a service that is down, slow or killed costs the training loop nothing,
and a training process killed at any moment loses at most the points of the last `flush_interval`.
All HTTP happens on this thread; the training thread only puts items in its inbox (callbacks/inbox.py).
"""

from __future__ import annotations

import logging
import numbers
import queue
import ssl
import tempfile
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any

import httpx

from losswatch.callbacks.heartbeat import Heartbeat
from losswatch.callbacks.inbox import Inbox
from losswatch.monitor.columnar import SeriesBuffer
from losswatch.monitor.spool import Delivered, Spool, SpoolBusy, Unreachable, deliver
from losswatch.monitor.vocabulary import key_problem, spell, step_problem

CONFIG_BLIND = {"too_few_points"}
log = logging.getLogger("losswatch")

_FLUSH = object()
_STOP = object()


wire = spell  # non-finite numbers travel as strings (JSON has no NaN)


def client_args(url: str, *, timeout: float, token: str | None) -> dict[str, Any]:
    """The sender's httpx.Client arguments. httpx loads the system's certificates into every client it makes
    (20 ms of CPU, taken from the training run on a busy machine); a plain-http service needs none, so its
    client gets an empty TLS context, which would refuse any https server (redirects are not followed)."""
    base = httpx.URL(url)
    args: dict[str, Any] = {
        "base_url": base,
        "timeout": timeout,
        "headers": httpx.Headers({"Authorization": f"Bearer {token}"} if token else {}),
    }
    if base.scheme == "http":
        args["verify"] = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificates and host names
    return args


class Sender:
    """One thread, one spool, one HTTP connection. Items are points (dicts with "key") or control
    records (dicts with "kind"); control records cut the current batch so order is kept."""

    def __init__(
        self,
        *,
        url: str,
        run: dict[str, Any],
        spool_dir: str | Path,
        token: str | None = None,
        batch_size: int = 500,
        flush_interval: float = 0.5,
        timeout: float = 5.0,
        poll_interval: float = 1.0,
        warn_bytes: int = 64 << 20,
        max_bytes: int = 1 << 30,
        max_backoff: float = 2.0,
        advice: bool = True,
    ) -> None:
        self.url, self.run = url, run
        self.run_id: str = run["id"]
        self.session = uuid.uuid4().hex[:8]
        self.batch_size, self.flush_interval = batch_size, flush_interval
        self.poll_interval, self.max_backoff = poll_interval, max_backoff
        self.warn_bytes, self.max_bytes = warn_bytes, max_bytes
        self.want_advice = advice
        self.advice: list[dict[str, Any]] | None = None
        self.decision: dict[str, Any] | None = None
        self.failures = 0  # delivery attempts that failed; tests and the end message read it
        self.healthy = True
        # The URL and headers are parsed here, so a malformed one fails where the sender is made, as before;
        # the client itself is built by the sender thread on its first request.
        self._http_args = client_args(url, timeout=timeout, token=token)
        self._http: httpx.Client | None = None
        self.spool = self._open_spool(Path(spool_dir))
        self._inbox = Inbox()
        self._lock = threading.Lock()  # guards the batch buffer and spool writes (close may write too)
        self._buffer = SeriesBuffer()  # the batch being gathered, per key (the columnar wire form)
        self._buffer_since = 0.0
        self._seq = 0
        self._ticket = 0  # items handed in by the training thread
        self._written: deque[tuple[tuple[int, int], int]] = deque()  # (spool position, last ticket in it)
        self._written_ticket = 0
        self._delivered_ticket = 0
        self._cond = threading.Condition()
        self._runs: dict[str, dict[str, Any]] = {}
        self._force = False
        self._backlog = True  # an earlier session's spool may hold records: try it at once
        self._run_known = False
        self._buffer_ticket = 0
        self._next_attempt = 0.0
        self._backoff = 0.2
        self._last_decision_at = 0.0
        self._said: set[str] = set()
        self._good_keys: set[str] = set()  # keys already found sendable
        self._stopping = False
        self._dropping = False
        self._heartbeat = Heartbeat(self.run_id)
        self.put({"kind": "run", "run": run})
        self._thread = threading.Thread(target=self._loop, name="losswatch-sender", daemon=True)
        self._thread.start()

    def _open_spool(self, path: Path) -> Spool:
        try:
            spool = Spool(path)
            spool.lock()
            return spool
        except (SpoolBusy, OSError) as exc:
            alt = Path(tempfile.mkdtemp(prefix="losswatch-spool-"))
            log.warning("losswatch: %s; spooling to %s instead", exc, alt)
            spool = Spool(alt)
            spool.lock()
            return spool

    # -- the training thread's side ---------------------------------------------------------------
    def put(self, item: Any) -> int:
        self._ticket += 1
        # A metrics point (a (step, metrics, time) tuple) waits for the sender's clock; anything else wakes it.
        self._inbox.put(self._ticket, item, urgent=not isinstance(item, tuple))
        return self._ticket

    def flush(self, timeout: float, *, even_if_down: bool = False) -> bool:
        """Wait until everything put so far is delivered; False when a delivery attempt fails or the time
        runs out. While the service is failing it only asks for an attempt and does not wait (waiting on
        a failing service would slow training), unless `even_if_down` (the bounded end of training)."""
        target = self._ticket
        deadline = time.monotonic() + timeout
        with self._cond:
            failures = self.failures
            self._inbox.put(0, _FLUSH, urgent=True)
            if not self.healthy and not even_if_down:
                return self._delivered_ticket >= target
            while self._delivered_ticket < target:
                left = deadline - time.monotonic()
                if left <= 0 or self.failures > failures or not self._thread.is_alive():
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def close(self, timeout: float) -> None:
        """Deliver for at most `timeout`, then stop; whatever is undelivered stays in the spool."""
        self._inbox.put(0, _STOP, urgent=True)
        self._thread.join(timeout)
        with self._lock:
            # The thread may be stuck in a slow request: write what it has not, so nothing is lost.
            self._stopping = True
            self._drain_to_spool(time.monotonic(), final=True)
            left = self.spool.unsent_bytes()
        if not self._thread.is_alive():
            self.spool.close()
            if self._http is not None:
                self._http.close()
        if left:
            log.warning(
                "losswatch: %d bytes not delivered to %s; they wait in %s (send them with "
                "`losswatch sync %s`, or they go at the next start)",
                left,
                self.url,
                self.spool.path,
                self.spool.path,
            )

    # -- the thread -----------------------------------------------------------------------------
    def _client(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(**self._http_args)
        return self._http

    def _loop(self) -> None:
        while True:
            try:
                if self._turn():
                    return
            except Exception as exc:  # noqa: BLE001 - the thread outlives any one bad record or answer
                self._say("internal", f"the sender hit {exc.__class__.__name__}: {exc}; it carries on")
                time.sleep(self.flush_interval)

    def _turn(self) -> bool:
        """One round of the loop; True when the thread is to end."""
        now = time.monotonic()
        wait = self.flush_interval
        if self._buffer:
            wait = max(0.0, self._buffer_since + self.flush_interval - now)
        if self._backlog:
            wait = min(wait, max(0.0, self._next_attempt - now))
        stop = False
        try:
            ticket, item, since = self._inbox.get(timeout=max(wait, 0.001))
            with self._lock:
                stop = self._handle(ticket, item, since)
        except queue.Empty:
            pass
        with self._lock:
            if self._stopping:
                return True
            stop = self._drain_to_spool(time.monotonic(), final=stop) or stop
        if self._backlog and (self._force or stop or time.monotonic() >= self._next_attempt):
            self._deliver()
        self._force = False
        if stop:
            with self._lock:
                self._stopping = True
            return True
        self._maybe_poll()
        return False

    def _handle(self, ticket: int, item: Any, since: float) -> bool:
        if item is _STOP:
            return True
        if item is _FLUSH:
            self._force = True
        else:
            self._add(ticket, item, since)
        return False

    def _add(self, ticket: int, item: Any, since: float) -> None:
        if isinstance(item, dict):  # a control record: what came before it goes first
            self._write_batch()
            self._write(item, ticket)
            return
        step, metrics, at = item  # the training thread hands over its dict as is; the work is done here
        if not self._buffer:
            self._buffer_since = since  # when it was logged: the flush clock runs from there
        # A point the service would refuse is dropped here: it would refuse the whole batch, the losses beside it
        # with it. A step is checked once per log, a key once per run.
        refused = step_problem(step)
        if refused is not None:
            self._say("step", f"not sending {refused}: the service would refuse the batch it is in")
            metrics = {}
        for key, value in metrics.items():
            kind = type(value)
            if kind is not float and kind is not int:  # the usual two, before the costlier ABC check
                # numbers.Real takes numpy's float32 and int64 too (a custom loop logs them as they come); a bool
                # is a flag, not a metric.
                if isinstance(value, bool) or not isinstance(value, numbers.Real):
                    continue
            name = key if type(key) is str else str(key)
            if name not in self._good_keys:
                refused = key_problem(name)
                if refused is not None:
                    self._say(f"key:{name}", f"not sending {refused}: the service would refuse the batch it is in")
                    continue
                self._good_keys.add(name)
            self._buffer.add(name, step, float(value), at)
        self._buffer_ticket = ticket
        if self._buffer.size >= self.batch_size:
            self._write_batch()

    def _drain_to_spool(self, now: float, *, final: bool) -> bool:
        """Move queued items into batches on disk; True when a stop was asked."""
        stop = False
        while True:
            try:
                ticket, item, since = self._inbox.get_nowait()
            except queue.Empty:
                break
            stop = self._handle(ticket, item, since) or stop
        if self._buffer and (final or stop or self._force or now - self._buffer_since >= self.flush_interval):
            self._write_batch()
        return stop

    def _write_batch(self) -> None:
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, SeriesBuffer()
        self._seq += 1
        record = {
            "kind": "metrics",
            "run_id": self.run_id,
            "batch_id": f"{self.run_id}-{self.session}-{self._seq}",
            "series": batch.series(),
        }
        self._write(record, self._buffer_ticket, droppable=True)

    def _write(self, record: dict[str, Any], ticket: int, *, droppable: bool = False) -> Any:
        unsent = self.spool.unsent_bytes() if self._written or droppable else 0
        if droppable and unsent >= self.max_bytes:
            self._say(
                "full",
                f"the spool {self.spool.path} holds {unsent >> 20} MB undelivered, its limit "
                f"(max_bytes); new points are dropped until {self.url} answers again",
            )
            self._mark_written(ticket)
            self._mark_delivered(ticket)
            return None
        if unsent >= self.warn_bytes:
            self._say(
                "large",
                f"the spool {self.spool.path} holds {unsent >> 20} MB not yet delivered to "
                f"{self.url}; it will be sent when the service answers (or `losswatch sync`)",
            )
        try:
            pos = self.spool.append(record)
        except (OSError, ValueError) as exc:
            self._say("disk", f"cannot write the spool ({exc}); those points are lost")
            self._mark_delivered(ticket)
            return None
        self._written.append((pos, ticket))
        self._mark_written(ticket)
        self._backlog = True
        return pos

    def _mark_written(self, ticket: int) -> None:
        self._written_ticket = max(self._written_ticket, ticket)

    def _mark_delivered(self, ticket: int) -> None:
        with self._cond:
            self._delivered_ticket = max(self._delivered_ticket, ticket)
            self._cond.notify_all()

    def _deliver(self) -> None:
        try:
            for pos, record in self.spool.pending():
                d = deliver(self._client(), record, self._runs)
                self._took(record, d)
                self.spool.ack(pos)
                while self._written and self._written[0][0] <= pos:
                    _, ticket = self._written.popleft()
                    self._mark_delivered(ticket)
        except Unreachable as exc:
            with self._cond:
                self.failures += 1
                self.healthy = False
                self._cond.notify_all()
            self._next_attempt = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, self.max_backoff)
            trouble = "refuses the token" if str(exc).startswith("HTTP 401") else "cannot be reached"
            self._say(
                "down",
                f"losswatch at {self.url} {trouble} ({exc}); training goes on and the points wait in {self.spool.path}",
            )
            return
        self._backlog = False
        self._heartbeat.seen()
        if not self.healthy:
            log.warning("losswatch: %s answers again; spooled points delivered", self.url)
            self._said.discard("down")
        self.healthy = True
        self._backoff = 0.2
        self._next_attempt = 0.0

    def _took(self, record: dict[str, Any], d: Delivered) -> None:
        if d.rejected:
            self._say(f"rejected-{d.kind}", f"the service refused a {d.kind} record: {d.rejected}")
        if not isinstance(record, dict):  # a damaged spool line, refused above: nothing of this run's in it
            return
        run = record.get("run")
        mine = record.get("run_id") == self.run_id or (isinstance(run, dict) and run.get("id") == self.run_id)
        if not mine:
            return
        if d.decision is not None:
            self.decision = d.decision
            self._last_decision_at = time.monotonic()
        if d.kind == "run" and not d.rejected:
            self._run_known = True
            # The run was just made or resumed: no decision to poll for yet, and the answer says how
            # often to beat and what the configuration alone advises (an older service said neither).
            self._last_decision_at = time.monotonic()
            answer = d.answer or {}
            self._heartbeat.learn(answer.get("stale_after"))
            if isinstance(answer.get("kept"), str):
                self._say("kept", answer["kept"])  # a resume's policy or config the service did not take
            if self.want_advice and self.advice is None:
                if isinstance(answer.get("advice"), list):
                    self._take_advice(answer["advice"])
                else:
                    self._fetch_advice()

    def _fetch_advice(self) -> None:
        self.advice = []
        try:
            r = self._client().get(f"/api/v1/runs/{self.run_id}/diagnostics", params={"key": "loss"})
            if r.status_code == 200:
                self._take_advice(r.json().get("advice") or [])
        except (httpx.HTTPError, ValueError, AttributeError):
            return  # no advice is not worth a word

    def _take_advice(self, items: list[Any]) -> None:
        self.advice = [
            a
            for a in items
            # At train begin only the configuration can be judged ("too few points" is a given); a fact
            # (the effective batch size) is shown on the page, not printed as a warning.
            if isinstance(a, dict) and a.get("code") not in CONFIG_BLIND and a.get("kind", "advice") == "advice"
        ]
        for a in self.advice:
            log.warning("losswatch advice [%s]: %s", a.get("code", "?"), a.get("message", ""))

    def _maybe_poll(self) -> None:
        """A light poll of the decision when no ingest answered lately, so a person's stop arrives."""
        if not self.healthy or not self._run_known or self._backlog:
            return
        self._heartbeat.maybe(self._client())
        if time.monotonic() - self._last_decision_at < self.poll_interval:
            return
        self._last_decision_at = time.monotonic()
        try:
            r = self._client().get(f"/api/v1/runs/{self.run_id}/decision")
            answer = r.json() if r.status_code == 200 else None
            if isinstance(answer, dict):  # anything else is not losswatch's answer: the trainer must not act on it
                self.decision = answer
        except (httpx.HTTPError, ValueError):
            pass  # the next delivery attempt notices and says so

    def _say(self, what: str, message: str) -> None:
        if what not in self._said:
            self._said.add(what)
            log.warning("losswatch: %s", message)
