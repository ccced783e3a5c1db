"""The `losswatch` command: thin over the library and the REST API."""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Any

import typer

from losswatch.monitor.settings import Settings

app = typer.Typer(
    help="losswatch: watch training losses and stop runs at the right time.", no_args_is_help=True, add_completion=False
)
db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")


class Auth(str, Enum):
    off = "off"
    required = "required"


def load_settings(command: str, **given: Any) -> Settings:
    """Settings from the environment (and `given`), or a sentence per bad variable and exit 2 (never a traceback)."""
    from pydantic import ValidationError

    try:
        return Settings(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        for err in exc.errors():
            name = "LOSSWATCH_" + "_".join(str(p) for p in err["loc"][:1]).upper()
            typer.echo(f"losswatch {command}: {name}={err.get('input')!r}: {err['msg']}", err=True)
        raise typer.Exit(2) from exc


@app.command()
def serve(
    host: str | None = typer.Option(None, help="address to bind (default LOSSWATCH_HOST or 127.0.0.1)"),
    port: int | None = typer.Option(None, min=1, max=65535, help="port to bind (default LOSSWATCH_PORT or 8000)"),
    database_url: str | None = typer.Option(None, help="SQLAlchemy URL (default: SQLite in --data-dir)"),
    data_dir: Path | None = typer.Option(
        None, help="where the SQLite file and mirrors live (default: the per-user data folder; env LOSSWATCH_DATA_DIR)"
    ),
    workers: int = typer.Option(1, min=1, help="uvicorn worker processes (more than 1 needs PostgreSQL)"),
    auth: Auth | None = typer.Option(None, help="off (loopback only) or required (tokens); env LOSSWATCH_AUTH"),
    insecure: bool = typer.Option(False, help="allow binding beyond loopback without auth"),
) -> None:
    """Serve the API and the dashboard.

    Example: losswatch serve --port 8000 --data-dir ./lw-data
    """
    import uvicorn

    from losswatch.monitor import db
    from losswatch.monitor.errors import SchemaBehind

    if database_url:
        os.environ["LOSSWATCH_DATABASE_URL"] = database_url
    if data_dir:
        os.environ["LOSSWATCH_DATA_DIR"] = str(data_dir)
    if auth:
        os.environ["LOSSWATCH_AUTH"] = auth.value
    if insecure:
        os.environ["LOSSWATCH_INSECURE"] = "1"
    settings = load_settings("serve")
    host = host or settings.host
    port = port or settings.port
    if not 1 <= port <= 65535:
        typer.echo(f"losswatch serve: port {port} (LOSSWATCH_PORT) is not between 1 and 65535", err=True)
        raise typer.Exit(2)
    if workers > 1 and settings.url.startswith("sqlite"):
        typer.echo(
            f"losswatch serve: --workers {workers} needs PostgreSQL: SQLite takes one writer at a time, so extra "
            "workers would only queue on its lock. Serve with one worker, or pass "
            "--database-url postgresql+psycopg://user@host/db",
            err=True,
        )
        raise typer.Exit(2)
    busy = port_refusal(host, port)
    if busy:
        typer.echo(f"losswatch serve: {busy}", err=True)
        raise typer.Exit(2)
    engine = db.make_engine(settings.url)
    try:
        db.prepare(engine, settings.url)
        refusal = bind_refusal(host, settings, engine)
    except SchemaBehind as exc:
        typer.echo(f"losswatch serve: {exc}", err=True)
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    if refusal:
        typer.echo(f"losswatch serve: {refusal}", err=True)
        raise typer.Exit(2)
    # The app is built in the worker processes from the environment: what it says in links is where it serves.
    os.environ["LOSSWATCH_HOST"], os.environ["LOSSWATCH_PORT"] = host, str(port)
    shown = f"[{host}]" if ":" in host else host
    typer.echo(
        f"losswatch: database {settings.shown_url}\n"
        f"losswatch: dashboard http://{shown}:{port}/  API docs http://{shown}:{port}/docs",
        err=True,
    )
    # An import string, so that every worker process builds its own app (and engine) from the env.
    uvicorn.run(
        "losswatch.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )


def port_refusal(host: str, port: int) -> str | None:
    """Why (host, port) cannot be bound, or None: said before the server starts, not after its banner."""
    import errno
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        return f"cannot bind {host!r}: {exc.strerror}; give an address such as 127.0.0.1 or 0.0.0.0"

    def bind_error(p: int) -> OSError | None:
        with socket.socket(family, kind, proto) as s:
            # As uvicorn binds: SO_REUSEADDR, so a socket left in TIME_WAIT by a stopped server is no obstacle.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((address[0], p, *address[2:]))
            except OSError as exc:
                return exc
        return None

    failed = bind_error(port)
    if failed is None:
        return None
    if failed.errno == errno.EADDRINUSE:
        # The port suggested is one that is free now, not merely the next number.
        free = next((p for p in range(port + 1, min(port + 50, 65536)) if bind_error(p) is None), None)
        hint = f"e.g. --port {free}" if free else "e.g. --port 8000"
        return (
            f"port {port} on {host} is already in use (another losswatch serve?); pick a free one with --port, {hint}"
        )
    if failed.errno == errno.EACCES:
        return f"not allowed to bind port {port} on {host} (ports below 1024 need privileges); try --port 8000"
    return f"cannot bind {host}:{port}: {failed.strerror or failed}"


def bind_refusal(host: str, settings: Settings, engine) -> str | None:  # type: ignore[no-untyped-def]
    """Why the service must not start on this address, or None. Loopback is always fine."""
    import ipaddress

    from losswatch.monitor.store.tokens import any_token

    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback or settings.insecure:
        return None
    if settings.auth == "off":
        return (
            f"refusing to serve {host} without authentication: anyone who can reach it could read and "
            "stop your runs. Use --auth required (after `losswatch token create`), bind 127.0.0.1, "
            "or pass --insecure if the network is trusted"
        )
    if not any_token(engine):
        return (
            f"--auth required on {host} but no token exists yet: create one with "
            "`losswatch token create --project P --scopes read,write` first"
        )
    return None


@db_app.command("upgrade")
def db_upgrade(database_url: str | None = typer.Option(None, help="SQLAlchemy URL")) -> None:
    """Upgrade the database schema to this version's head.

    Example: losswatch db upgrade --database-url sqlite:///lw.db
    """
    from losswatch.monitor import db

    url = database_url or load_settings("db upgrade").url
    if url.startswith("sqlite"):
        Path(url.split("///", 1)[-1]).parent.mkdir(parents=True, exist_ok=True)
    from sqlalchemy.engine import make_url

    db.upgrade(url)
    typer.echo(f"database {make_url(url).render_as_string(hide_password=True)} at head ({db.head_revision(url)})")


def _register_commands() -> None:
    import importlib
    import pkgutil

    from losswatch.monitor import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"losswatch.monitor.commands.{info.name}").register(app)


_register_commands()


def main() -> None:
    """The console entry: `app`, with any error no command caught turned into one sentence and exit 1."""
    from losswatch.monitor.cli_errors import DEBUG_ENV, describe

    try:
        app(prog_name="losswatch")
    except Exception as exc:
        if os.environ.get(DEBUG_ENV):
            raise
        typer.echo(f"losswatch: {describe(exc)}", err=True)
        sys.exit(1)
