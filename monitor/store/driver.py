"""Statements run straight on the driver's connection, inside the current SQLAlchemy transaction.

For the ingest hot path only: a SQLAlchemy Core execution costs some 40 µs of Python around a 15 µs
SQLite statement, and every batch runs about eight of them whatever its size. Statements are written with
`?` placeholders and translated for psycopg's `%s`. JSON columns are read and written as SQLAlchemy's
JSON type stores them, so Core code reads what this writes and the other way round.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import msgspec
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError


@lru_cache(maxsize=256)
def _pyformat(sql: str) -> str:
    return sql.replace("?", "%s")


def execute(conn: Connection, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Any:
    """Run one statement; returns the driver's cursor (sqlite3 and psycopg both answer `execute`)."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    if conn.dialect.paramstyle != "qmark":
        sql = _pyformat(sql)
    with errors(conn, sql, params):
        return raw.execute(sql, params)  # type: ignore[attr-defined]


@contextmanager
def errors(conn: Connection, sql: str, params: Any = None) -> Iterator[None]:
    """The driver's errors as SQLAlchemy raises them (OperationalError, IntegrityError, ...), so callers and the
    API's error mapping see one kind whichever path ran the statement."""
    base = conn.dialect.loaded_dbapi.Error
    try:
        yield
    except base as exc:
        raise DBAPIError.instance(sql, params, exc, base) from exc


def fetchone(conn: Connection, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Any:
    return execute(conn, sql, params).fetchone()


def fetchall(conn: Connection, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[Any]:
    return list(execute(conn, sql, params).fetchall())


_encode = msgspec.json.Encoder()


def json_param(conn: Connection, value: Any) -> Any:
    """A value for a JSON column: text on SQLite (as SQLAlchemy writes it), a JSON adapter on PostgreSQL."""
    if conn.dialect.name == "postgresql":
        from psycopg.types.json import Json

        return Json(value, dumps=_dumps)
    return _dumps(value)


def _dumps(value: Any) -> str:
    return _encode.encode(value).decode()


def json_value(value: Any) -> Any:
    """A JSON column as read: SQLite gives its text, psycopg has already parsed it."""
    if isinstance(value, (str, bytes)):
        return json.loads(value)
    return value
