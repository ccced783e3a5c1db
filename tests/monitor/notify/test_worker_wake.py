"""The worker is woken by a commit that queued a message, and reads the outbox only once that commit has
landed: SQLAlchemy's "commit" event comes before the database commits, so a read at that moment could miss
the message and leave it to the next poll."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, event

from losswatch.monitor.db import make_engine
from losswatch.monitor.notify.worker import NotifyWorker
from losswatch.monitor.settings import Settings
from losswatch.monitor.store import runs
from tests.receiver import Receiver

from .test_delivery import subscribe

POLL = 60.0  # only the wake-up can deliver within the test's wait


@pytest.mark.parametrize("commit_delay", [0.0, 0.2], ids=["prompt-commit", "slow-commit"])
def test_worker_wake_delivers_after_a_slow_commit(
    tmp_path: Path, db_url: str, receiver: Receiver, commit_delay: float
) -> None:
    settings = Settings(database_url=db_url, data_dir=tmp_path / "data", notify_poll_seconds=POLL, notify_cooldown=0)
    engine: Engine = make_engine(settings.url)
    worker = NotifyWorker(engine, settings).start()
    try:

        def slow(conn: Connection) -> None:  # after the worker's own listener, before the database commits
            time.sleep(commit_delay)

        event.listen(engine, "commit", slow)
        subscribe(engine, receiver, ["finished"])
        runs.create_run(engine, name="ends", run_id="ends")
        time.sleep(0.3)  # the worker's first pass is over: it sleeps on its minute-long poll
        t0 = time.monotonic()
        runs.set_status(engine, run_id="ends", status="finished")
        (got,) = receiver.wait(1, timeout=20)
        assert got["body"]["event"] == "finished" and got["body"]["run_id"] == "ends"
        assert time.monotonic() - t0 < POLL / 4
    finally:
        worker.stop()
        engine.dispose()


def test_worker_pass_on_a_locked_database_logs_one_line(
    tmp_path: Path, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Another process holds SQLite's write lock past the worker's busy timeout while a run has gone silent:
    # the pass that would report it cannot write. That is expected under heavy writing: one warning line
    # that says so, not a traceback, and the next pass goes on.
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path / "data", stale_after=1.0)
    engine: Engine = make_engine(settings.url, busy_timeout=0.1)
    runs.create_run(engine, name="quiet", run_id="quiet")
    time.sleep(1.2)  # past stale_after: the next pass reports the run
    worker = NotifyWorker(engine, settings)
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), timeout=0)
    try:
        holder.execute("BEGIN IMMEDIATE")
        caplog.set_level(logging.WARNING, logger="losswatch.notify")
        worker._pass()
        (record,) = [r for r in caplog.records if r.name == "losswatch.notify"]
        assert record.levelno == logging.WARNING and record.exc_info is None
        assert "busy or away: database is locked" in record.getMessage()
        holder.rollback()
        caplog.clear()
        worker._next_scan = 0.0
        worker._pass()
        # With the lock gone the next pass reports the silent run (its mark is written).
        marks = holder.execute("SELECT COUNT(*) FROM notification_marks WHERE run_id = 'quiet'").fetchone()[0]
        assert not caplog.records and marks == 1
    finally:
        holder.close()
        engine.dispose()
