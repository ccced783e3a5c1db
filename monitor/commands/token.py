"""`losswatch token`: create, list and revoke API tokens in the server's database."""

from __future__ import annotations

from pathlib import Path

import typer


def _url(database_url: str | None, data_dir: Path | None) -> str:
    from losswatch.monitor.cli import load_settings

    return database_url or load_settings("token", data_dir=data_dir).url


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _engine(url: str):  # type: ignore[no-untyped-def]
    from losswatch.monitor.db import make_engine, prepare

    engine = make_engine(url)
    prepare(engine, url)
    return engine


def register(app: typer.Typer) -> None:
    token_app = typer.Typer(help="Manage API tokens (stored hashed; a token is shown once).", no_args_is_help=True)
    app.add_typer(token_app, name="token")
    db_option = typer.Option(None, "--database-url", envvar="LOSSWATCH_DATABASE_URL", help="SQLAlchemy URL")
    dir_option = typer.Option(
        None, "--data-dir", envvar="LOSSWATCH_DATA_DIR", help="the server's data folder (default: the per-user one)"
    )

    @token_app.command("create")
    def create(
        project: str = typer.Option("default", help="the project the token reaches"),
        scopes: str = typer.Option("read,write", help="comma-separated: read, write, admin"),
        name: str = typer.Option("token", help="a label to recognise it by"),
        database_url: str | None = db_option,
        data_dir: Path | None = dir_option,
    ) -> None:
        """Create a token and print it once.

        Example: losswatch token create --project sft --scopes read,write --name trainer
        """
        from losswatch.monitor.errors import Invalid
        from losswatch.monitor.store.tokens import create_token, parse_scopes

        try:
            url = _url(database_url, data_dir)
            info, secret = create_token(_engine(url), project=project, scopes=parse_scopes(scopes), name=name)
        except Invalid as exc:
            typer.echo(f"losswatch token: {exc}", err=True)
            raise typer.Exit(2) from exc
        typer.echo(secret)
        typer.echo(
            f"token {info['id']} for project {project!r} with scopes {','.join(info['scopes'])}; shown only now.\n"
            f"Stored in {_shown(url)}: a server accepts it only if it serves that database "
            "(its start-up line names the one it uses; --data-dir / LOSSWATCH_DATA_DIR choose it).",
            err=True,
        )

    @token_app.command("list")
    def list_(
        project: str | None = typer.Option(None, help="only this project's tokens"),
        database_url: str | None = db_option,
        data_dir: Path | None = dir_option,
    ) -> None:
        """List tokens (never their secrets).

        Example: losswatch token list --project sft
        """
        from losswatch.monitor.store.tokens import list_tokens

        url = _url(database_url, data_dir)
        typer.echo(f"tokens in {_shown(url)}", err=True)
        for t in list_tokens(_engine(url), project=project):
            state = "revoked" if t["revoked_at"] else "active"
            typer.echo(f"{t['id']}\t{t['project']}\t{t['name']}\t{','.join(t['scopes'])}\t{state}")

    @token_app.command("revoke")
    def revoke(
        token_id: int = typer.Argument(..., min=1, max=2**63 - 1, help="the id `token list` shows"),
        database_url: str | None = db_option,
        data_dir: Path | None = dir_option,
    ) -> None:
        """Revoke a token; requests with it get 401 from then on.

        Example: losswatch token revoke 3
        """
        from losswatch.monitor.errors import NotFound
        from losswatch.monitor.store.tokens import revoke_token

        try:
            revoke_token(_engine(_url(database_url, data_dir)), token_id=token_id)
        except NotFound as exc:
            typer.echo(f"losswatch token: {exc}", err=True)
            raise typer.Exit(1) from exc
        typer.echo(f"token {token_id} revoked")
