"""`losswatch import`: a client of the REST API, like the trainer plugin."""

from __future__ import annotations

from pathlib import Path

import typer

from losswatch.monitor import cli_options as options


def register(app: typer.Typer) -> None:
    @app.command("import")
    def import_logs(
        paths: list[Path] = typer.Argument(..., help="trainer_state.json, trainer_log.jsonl or a TensorBoard folder"),
        url: str = options.URL,
        project: str = typer.Option("default", envvar="LOSSWATCH_PROJECT", help="project to import into"),
        name: str | None = typer.Option(None, help="run name (default: from the file's folder)"),
        token: str | None = options.TOKEN,
        early_stopping: str | None = options.EARLY_STOPPING,
        progress: bool = typer.Option(True, help="show a progress bar"),
    ) -> None:
        """Import runs' logs; importing the same file twice changes nothing.

        One output folder (trainer_log.jsonl, trainer_state.json, checkpoints) is one run: importing a
        growing log again adds only its new points, and a log whose training is over ends the run.

        Example: losswatch import output/trainer_state.json saves/qwen/trainer_log.jsonl --project sft
        """
        import httpx

        from losswatch.monitor.errors import LossWatchError
        from losswatch.monitor.importers import UploadError, read_log, upload
        from losswatch.monitor.policy_json import parse_policy
        from losswatch.monitor.restclient import TOKEN_HINT, connect, explain

        try:
            policy = parse_policy(early_stopping)
        except ValueError as exc:
            typer.echo(f"losswatch import: {exc}", err=True)
            raise typer.Exit(2) from exc
        failed = False
        with connect(url, token, timeout=60) as client:
            for path in paths:
                try:
                    log = read_log(path)
                    result = upload(
                        log, client=client, project=project, name=name, progress=progress, early_stopping=policy
                    )
                except UploadError as exc:
                    # The service is the same for every file: say what to do once, and stop.
                    cause = exc.__cause__
                    if isinstance(cause, httpx.HTTPError):
                        said = explain(cause, url)
                    else:
                        said = f"{exc}" + (f"; {TOKEN_HINT}" if exc.status == 401 else "")
                    typer.echo(f"losswatch import: {path}: {said}", err=True)
                    raise typer.Exit(1) from exc
                except (LossWatchError, httpx.HTTPError) as exc:
                    typer.echo(f"losswatch import: {exc}", err=True)
                    failed = True
                    continue
                typer.echo(
                    f"{path}: run {result['run_id']}: {result['points']} points, {result['accepted']} new, "
                    f"{result['duplicates']} already there, {result['overwritten']} replaced"
                    + (f"; {result['status']}" if result["status"] else "; still running")
                )
                for note in log.notes:
                    typer.echo(f"  {note}")
        if failed:
            raise typer.Exit(1)
