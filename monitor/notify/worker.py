"""The notification worker: a background thread of the service that delivers the outbox.

Each pass reports newly silent runs (stale.py), then leases the due messages through the database
(several processes or replicas share one outbox), posts each in its target's format, and marks it
done, or backs off exponentially, or gives up after `notify_max_attempts` (or at once on a 4xx that
retrying cannot fix). The thread never dies of a failure; it logs and tries again.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import OperationalError

from losswatch.monitor.db import background_pass
from losswatch.monitor.mirrors.cursors import _pid_dead, new_owner
from losswatch.monitor.notify import TEST, diagnosis, formats, outbox, stale
from losswatch.monitor.notify.outbox import Message
from losswatch.monitor.settings import Settings

log = logging.getLogger("losswatch.notify")
RETRYABLE = {408, 425, 429}
BATCH = 50
SENDERS = 4
COMMITTED = "losswatch_outbox_committed"  # on a pooled connection: its last commit queued a message


class NotifyWorker:
    def __init__(self, engine: Engine, settings: Settings, owner: str | None = None) -> None:
        self.engine, self.settings = engine, settings
        self.owner = owner or new_owner()
        self._http = httpx.Client(
            timeout=settings.notify_timeout,
            headers={"User-Agent": "losswatch-notify/1"},
            follow_redirects=False,
        )
        self._pool = ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="losswatch-notify-send")
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_scan = 0.0
        self._read: dict[str, tuple[str, float]] = {}  # run -> (signature of its points, when it was read)
        self._watched: list[Engine] = []
        self.watch(engine)

    def watch(self, engine: Engine) -> None:
        """Wake at once when a transaction on `engine` that queued a message has committed (not at the next
        poll); the service writes through more than one engine (api/inline.py)."""
        self._watched.append(engine)
        event.listen(engine, "commit", self._committed)
        event.listen(engine, "rollback", self._rolled_back)
        event.listen(engine.pool, "checkin", self._checked_in)

    def _committed(self, conn: Connection) -> None:
        # SQLAlchemy calls this before the database commits: a read now might not see the message yet.
        # The wake waits for the connection's return to the pool, which follows the commit.
        if conn.info.pop(outbox.QUEUED, False):
            conn.info[COMMITTED] = True

    def _rolled_back(self, conn: Connection) -> None:
        conn.info.pop(outbox.QUEUED, None)
        conn.info.pop(COMMITTED, None)

    def _checked_in(self, dbapi_connection: Any, record: Any) -> None:
        if record is not None and record.info.pop(COMMITTED, False):
            self._wake.set()

    def run_once(self) -> int:
        """One pass; returns how many messages were attempted."""
        now = time.time()
        if now >= self._next_scan:
            stale.scan(self.engine, now=now, stale_after=self.settings.stale_after)
            self._next_scan = now + min(5.0, self.settings.stale_after / 4)
            self._diagnose(now)
        with self.engine.connect() as conn:
            found = outbox.due(conn, now=now, limit=BATCH)
        mine = []
        for m in found:
            if self._stop.is_set():
                break
            dead = m.leased_elsewhere(owner=self.owner, now=now) and _pid_dead(m.lease_owner)
            if m.leased_elsewhere(owner=self.owner, now=now) and not dead:
                continue
            if outbox.claim(
                self.engine,
                message=m,
                owner=self.owner,
                lease_seconds=self.settings.notify_lease_seconds,
                holder_dead=dead,
            ):
                mine.append(m)
        for _ in self._pool.map(self._deliver, mine):
            pass
        return len(mine)

    def _diagnose(self, now: float) -> None:
        """Read the runs whose points changed (at most every `notify_diagnose_seconds` each)."""
        with self.engine.connect() as conn:
            watched = diagnosis.watched_runs(conn)
        for run_id, signature in watched:
            seen = self._read.get(run_id)
            if seen is not None and (seen[0] == signature or now - seen[1] < self.settings.notify_diagnose_seconds):
                continue
            self._read[run_id] = (signature, now)
            try:
                diagnosis.tell(self.engine, run_id=run_id, now=now)
            except Exception:  # one run's odd data must not keep the others' messages back
                log.exception("notification worker: reading run %s failed", run_id)
        if len(self._read) > 4 * len(watched) + 100:  # forget runs that ended
            keep = {r for r, _ in watched}
            self._read = {r: v for r, v in self._read.items() if r in keep}

    def _deliver(self, m: Message) -> None:
        try:
            self._attempt(m)
        except OperationalError as exc:  # busy or locked: the lease runs out and the message is tried again
            reason = str(exc.orig if exc.orig is not None else exc).splitlines()[0]
            log.warning("notification %s: delivery bookkeeping waits for the database (%s)", m.id, reason)
        except Exception:  # anything else is a bug worth its traceback; the message is tried again all the same
            log.exception("notification %s: delivery bookkeeping failed", m.id)

    def _attempt(self, m: Message) -> None:
        s = self.settings
        if m.event != TEST and s.notify_cooldown > 0:
            with self.engine.connect() as conn:
                if outbox.recently_sent(conn, message=m, since=time.time() - s.notify_cooldown):
                    outbox.finish(
                        self.engine, message_id=m.id, owner=self.owner, status=outbox.SKIPPED, note="cooldown"
                    )
                    return
        payload = formats.body(
            m.kind, event=m.event, facts=m.facts, lang=m.lang, base_url=s.run_page_base, message_id=m.id
        )
        headers = {"X-Losswatch-Event": m.event, "X-Losswatch-Id": m.id, "Idempotency-Key": m.id}
        error, retry = None, True
        try:
            r = self._http.post(m.url, json=payload, headers=headers)
        except httpx.HTTPError as exc:  # connection refused, timeout...: the receiver may come back
            error = f"{type(exc).__name__}: {exc}"
        else:
            if r.is_success:
                try:
                    answer = r.json()
                except ValueError:
                    answer = None
                error = formats.refusal(m.kind, answer)
            else:
                error = f"HTTP {r.status_code}: {r.text[:200]}"
                retry = r.status_code >= 500 or r.status_code in RETRYABLE
        if error is None:
            outbox.finish(self.engine, message_id=m.id, owner=self.owner, status=outbox.DONE)
            return
        delay = outbox.fail(
            self.engine,
            message_id=m.id,
            owner=self.owner,
            error=error,
            retry=retry,
            base_delay=s.notify_retry_seconds,
            max_delay=s.notify_max_backoff,
            max_attempts=s.notify_max_attempts,
        )
        host = urlsplit(m.url).hostname
        if delay is None:
            log.warning("notification %s (%s to %s) given up: %s", m.id, m.event, host, error)
        else:
            log.warning("notification %s (%s to %s) failed, retry in %.0fs: %s", m.id, m.event, host, delay, error)

    def wake(self) -> None:
        self._wake.set()

    def _pass(self) -> None:
        background_pass(self.run_once, log, "notification worker")

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._pass()
            # Cleared before the next pass reads the outbox: a wake set after this point is for a commit that
            # pass may miss, and it wakes the one after.
            self._wake.wait(self.settings.notify_poll_seconds)
            self._wake.clear()
        self._shutdown()

    def _shutdown(self) -> None:
        for engine in self._watched:
            event.remove(engine, "commit", self._committed)
            event.remove(engine, "rollback", self._rolled_back)
            event.remove(engine.pool, "checkin", self._checked_in)
        self._watched.clear()
        self._pool.shutdown(wait=True)
        self._http.close()
        try:
            outbox.release(self.engine, owner=self.owner)
        except Exception as exc:
            log.warning("notification worker: releasing leases failed: %s", exc)

    def start(self) -> NotifyWorker:
        self._thread = threading.Thread(target=self._loop, name="losswatch-notify", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is None:
            self._shutdown()
            return
        self._thread.join(timeout)


def start_worker(engine: Engine, settings: Settings) -> NotifyWorker | None:
    return NotifyWorker(engine, settings).start() if settings.notify_worker else None


def stop_worker(worker: NotifyWorker | None) -> None:
    if worker is not None:
        worker.stop()
