"""The mirror worker: a background thread of the service that brings every run's mirrors up to date.

Ingest never waits on it: it only reads committed points, and its own writes (leases, cursors) are
tiny transactions. Any failure of a target is caught, recorded as the cursor's `last_error`, and
backed off; the thread itself never dies of one.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Protocol

from sqlalchemy import Engine

from losswatch.monitor.db import background_pass
from losswatch.monitor.mirrors import cursors
from losswatch.monitor.mirrors.cursors import RunInfo
from losswatch.monitor.settings import Settings

log = logging.getLogger("losswatch.mirrors")


class Target(Protocol):
    name: str

    def sync(self, engine: Engine, info: RunInfo, state: dict[str, Any]) -> tuple[dict[str, Any], int | None, bool]:
        """Write what lies past `state`; return the new state, the last step held, and whether it is complete."""

    def close(self, run_id: str) -> None: ...

    def close_all(self) -> None: ...


def _plain(state: dict[str, Any]) -> Any:
    """`state` as the database gives it back (JSON: tuples become lists, keys strings)."""
    return json.loads(json.dumps(state))


def make_target(name: str, settings: Settings) -> Target:
    if name == "tensorboard":
        from losswatch.monitor.mirrors.tensorboard import TensorBoardMirror

        return TensorBoardMirror(settings.tensorboard_root)
    if name == "wandb":
        from losswatch.monitor.mirrors.wandb import WandbMirror

        return WandbMirror(settings.data_dir)
    raise ValueError(f"unknown mirror target {name!r}")


class MirrorWorker:
    def __init__(self, engine: Engine, settings: Settings, owner: str | None = None) -> None:
        self.engine, self.settings = engine, settings
        self.owner = owner or cursors.new_owner()
        self.lease = settings.mirror_lease_seconds
        self.targets: dict[str, Target] = {}
        self._leases: dict[tuple[str, str], float] = {}
        # The cursor state this process last stored per (run, target): a stored one that differs was written
        # by another worker.
        self._written: dict[tuple[str, str], Any] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def target(self, name: str) -> Target:
        if name not in self.targets:
            self.targets[name] = make_target(name, self.settings)
        return self.targets[name]

    def run_once(self) -> int:
        """One pass over every run with mirrors; returns how many (run, target) pairs were advanced."""
        now = time.time()
        with self.engine.connect() as conn:
            infos = cursors.runs_to_mirror(conn, default=list(self.settings.mirrors))
            rows = cursors.cursors(conn)
        advanced = 0
        for info in infos:
            for name in info.targets:
                if self._stop.is_set():
                    return advanced
                if cursors.due(info, name, rows.get((info.id, name)), owner=self.owner, now=now):
                    advanced += self._mirror(info, name)
        return advanced

    def _mirror(self, info: RunInfo, name: str) -> int:
        key = (info.id, name)
        if self._leases.get(key, 0.0) < time.time() + self.lease / 2:
            if not cursors.acquire(
                self.engine, run_id=info.id, target=name, owner=self.owner, lease_seconds=self.lease
            ):
                self._drop(key)
                return 0
            self._leases[key] = time.time() + self.lease
        with self.engine.connect() as conn:
            row = cursors.cursors(conn, run_id=info.id).get(key)
        if row is None or row.lease_owner != self.owner:
            self._drop(key)
            return 0
        if self._written.get(key) != _plain(row.state or {}):
            # Another worker advanced the cursor while this one's lease had lapsed (or it never wrote): what
            # this process holds open (a TensorBoard file, a W&B run) no longer ends where the cursor does.
            # Closed, the target starts as a new process does: a purge, or a complete offline W&B file.
            self._drop(key)
            self._leases[key] = time.time() + self.lease
        try:
            state, last_step, complete = self.target(name).sync(self.engine, info, dict(row.state or {}))
        except Exception as exc:  # a mirror's failure is recorded and retried, never raised into the service
            self._drop(key)
            delay = cursors.fail(
                self.engine,
                run_id=info.id,
                target=name,
                owner=self.owner,
                error=f"{type(exc).__name__}: {exc}",
                base_delay=self.settings.mirror_poll_seconds,
            )
            log.warning("mirror %s of run %s failed (retry in %.0fs): %s", name, info.id, delay, exc)
            return 0
        ok = cursors.advance(
            self.engine,
            run_id=info.id,
            target=name,
            owner=self.owner,
            state=state,
            last_step=last_step,
            version=info.version if complete else row.version,
            lease_seconds=self.lease,
        )
        if not ok:  # the lease went to another worker meanwhile; it starts from the stored cursor
            self._drop(key)
            return 0
        self._leases[key] = time.time() + self.lease
        self._written[key] = _plain(state)
        return 1

    def _drop(self, key: tuple[str, str]) -> None:
        self._leases.pop(key, None)
        self._written.pop(key, None)
        target = self.targets.get(key[1])
        if target is not None:
            try:
                target.close(key[0])
            except Exception as exc:
                log.warning("mirror %s of run %s: closing failed: %s", key[1], key[0], exc)

    def _pass(self) -> None:
        background_pass(self.run_once, log, "mirror worker")

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._pass()
            self._stop.wait(self.settings.mirror_poll_seconds)
        self._shutdown()

    def _shutdown(self) -> None:
        for target in self.targets.values():
            try:
                target.close_all()
            except Exception as exc:
                log.warning("mirror %s: closing failed: %s", target.name, exc)
        try:
            cursors.release(self.engine, owner=self.owner)
        except Exception as exc:
            log.warning("mirror worker: releasing leases failed: %s", exc)

    def start(self) -> MirrorWorker:
        self._thread = threading.Thread(target=self._loop, name="losswatch-mirrors", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is None:
            self._shutdown()
            return
        self._thread.join(timeout)


def start_worker(engine: Engine, settings: Settings) -> MirrorWorker | None:
    return MirrorWorker(engine, settings).start() if settings.mirror_worker else None


def stop_worker(worker: MirrorWorker | None) -> None:
    if worker is not None:
        worker.stop()
