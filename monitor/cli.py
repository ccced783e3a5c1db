"""The `losswatch` command: thin over the library and the REST API."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from losswatch.monitor.settings import Settings

app = typer.Typer(
    help="losswatch: watch training losses and stop runs at the right time.", no_args_is_help=True, add_completion=False
)
db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.command()
def serve(
    host: str | None = typer.Option(None, help="address to bind (default LOSSWATCH_HOST or 127.0.0.1)"),
    port: int | None = typer.Option(None, help="port to bind (default LOSSWATCH_PORT or 8000)"),
    database_url: str | None = typer.Option(None, help="SQLAlchemy URL (default: SQLite in --data-dir)"),
    data_dir: Path | None = typer.Option(None, help="where the SQLite file and mirrors live"),
    workers: int = typer.Option(1, min=1, help="uvicorn worker processes (use PostgreSQL for more than 1)"),
    auth: str | None = typer.Option(None, help="off (loopback only) or required (tokens); env LOSSWATCH_AUTH"),
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
        os.environ["LOSSWATCH_AUTH"] = auth
    if insecure:
        os.environ["LOSSWATCH_INSECURE"] = "1"
    settings = Settings()
    host = host or settings.host
    port = port or settings.port
    engine = db.make_engine(settings.url)
    try:
        db.prepare(engine, settings.url)
        refusal = bind_refusal(host, settings, engine)
    except SchemaBehind as exc:
        typer.echo(f"losswatch: {exc}", err=True)
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    if refusal:
        typer.echo(f"losswatch: {refusal}", err=True)
        raise typer.Exit(2)
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

    settings = Settings()
    url = database_url or settings.url
    if url.startswith("sqlite"):
        Path(url.split("///", 1)[-1]).parent.mkdir(parents=True, exist_ok=True)
    db.upgrade(url)
    typer.echo(f"database at head ({db.head_revision(url)})")


def _register_commands() -> None:
    import importlib
    import pkgutil

    from losswatch.monitor import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"losswatch.monitor.commands.{info.name}").register(app)


_register_commands()


def main() -> None:  # pragma: no cover - console entry
    sys.exit(app())
