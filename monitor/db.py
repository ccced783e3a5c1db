"""Engine construction and the schema-version gate."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CursorResult, Engine, create_engine, event, inspect
from sqlalchemy.exc import OperationalError

from alembic import command
from losswatch.monitor.errors import SchemaBehind

# Beside the package: the repository's top-level `alembic/`, installed as `losswatch/alembic/`.
MIGRATIONS = Path(__file__).resolve().parent.parent / "alembic"


def make_engine(url: str, *, busy_timeout: float | None = None, autocheckpoint: bool = True) -> Engine:
    """`busy_timeout`: how long a writer waits for a lock (SQLite's database lock, PostgreSQL's row and
    table locks) before giving up; the service answers that with a 503, so a client retries rather than
    hanging on. None: 30 s on SQLite, no limit on PostgreSQL (the CLI's own maintenance).

    `autocheckpoint=False`: SQLite connections that never copy the WAL back into the database on commit (a
    checkpoint syncs the disk); whoever uses them checkpoints on its own schedule (api/inline.py)."""
    if url.startswith("sqlite"):
        seconds = 30.0 if busy_timeout is None else busy_timeout
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": seconds})
        _tune_sqlite(engine, seconds, autocheckpoint)
        return engine
    args = {} if busy_timeout is None else {"options": f"-c lock_timeout={int(busy_timeout * 1000)}"}
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, connect_args=args)


def _tune_sqlite(engine: Engine, busy_timeout: float, autocheckpoint: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        # pysqlite's own transaction handling starts transactions late and as DEFERRED, which turns
        # concurrent writers into "database is locked" upgrades; we issue BEGIN IMMEDIATE ourselves.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL is durable against process crashes (the case we test); only an OS crash may
        # lose the last transactions, which the trainer's spool re-sends.
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cur.execute("PRAGMA cache_size=-65536")
        cur.execute("PRAGMA temp_store=MEMORY")
        if not autocheckpoint:
            cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        options = conn.get_execution_options()
        # SQLite checks a foreign key per inserted row (an index probe each: 12% of a bulk insert). The
        # ingest transaction has just read or created every row its inserts refer to, under the write
        # lock, so it asks for the checks off; every other transaction has them on. The pragma only
        # takes effect outside a transaction, hence here, and only when it changes.
        checks = not options.get("trusted_refs")
        info = conn.connection.info
        if info.get("foreign_keys", True) != checks:
            conn.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if checks else 'OFF'}")
            info["foreign_keys"] = checks
        # Writers take the lock up front (no deadlocking read-to-write upgrades); readers never
        # block anyone under WAL.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("write") else "BEGIN")


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key a one-row INSERT created."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the INSERT reported no primary key")
    return int(key[0])


def background_pass(run: Callable[[], object], log: logging.Logger, what: str) -> None:
    """One pass of a background worker; the next poll tries again whatever happens. A database that is busy
    or away (SQLite's lock held past busy_timeout, a PostgreSQL lock timeout, a server down) is expected
    under heavy writing or a restart: one warning line with the driver's first line. Anything else keeps its
    traceback."""
    try:
        run()
    except OperationalError as exc:
        text = str(exc.orig if exc.orig is not None else exc).strip()
        busy = text.splitlines()[0] if text else type(exc).__name__
        log.warning("%s pass skipped, the database is busy or away: %s", what, busy)
    except Exception:
        log.exception("%s pass failed", what)


def writer(engine: Engine) -> Engine:
    """The engine to open write transactions with (BEGIN IMMEDIATE on SQLite)."""
    return engine.execution_options(write=True)


def bulk_writer(engine: Engine) -> Engine:
    """`writer` for a transaction whose inserts only refer to rows it has itself read or created under the
    write lock (ingest): SQLite skips its per-row foreign-key probes there."""
    return engine.execution_options(write=True, trusted_refs=True)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def prepare(engine: Engine, url: str) -> None:
    """Upgrade an empty database; refuse one that is behind, with the command that fixes it."""
    head = head_revision(url)
    current = current_revision(engine)
    if current == head:
        return
    if current is None and not inspect(engine).get_table_names():
        upgrade(url)
        return
    raise SchemaBehind(
        f"the database at {engine.url.render_as_string(hide_password=True)} is at schema revision "
        f"{current or 'none'} but this losswatch needs {head}; run `losswatch db upgrade` "
        "(back it up first)"
    )
