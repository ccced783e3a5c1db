"""`losswatch watch OUTPUT_DIR...`: follow runs losswatch cannot instrument, from their output folders."""

from __future__ import annotations

from pathlib import Path

import typer

from losswatch.monitor import cli_options as options


def register(app: typer.Typer) -> None:
    @app.command("watch")
    def watch(
        folders: list[Path] = typer.Argument(
            ..., help="training output folders (trainer_log.jsonl, trainer_state.json)"
        ),
        pid: int | None = typer.Option(
            None, min=1, help="the training process: its end ends the watch; stopped if graceful"
        ),
        url: str = options.URL,
        project: str = options.RUNS_PROJECT,
        name: str | None = typer.Option(None, help="run name (default: the folder's name)"),
        early_stopping: str | None = options.EARLY_STOPPING,
        token: str | None = options.TOKEN,
        interval: float = typer.Option(1.0, min=0.05, help="seconds between reads of the folders"),
    ) -> None:
        """Follow training output folders live until their runs end; one folder is one run, whatever
        restarts the watcher. On a stop decision, a LLaMA-Factory web-UI run (LLAMABOARD_ENABLED) gets
        SIGABRT and saves and exits; any other run is told what to do, never killed.

        Example: losswatch watch saves/Llama-3-8B/lora/train_2024-05-01 --pid 12345
        """
        import httpx

        from losswatch.monitor.errors import LossWatchError
        from losswatch.monitor.policy_json import parse_policy
        from losswatch.monitor.restclient import connect
        from losswatch.monitor.watch import Watcher, alive

        try:
            policy = parse_policy(early_stopping)
        except ValueError as exc:
            typer.echo(f"losswatch watch: {exc}", err=True)
            raise typer.Exit(2) from exc
        if pid is not None and not alive(pid):
            typer.echo(f"losswatch watch: no process {pid}", err=True)
            raise typer.Exit(2)
        missing = [str(f) for f in folders if f.exists() and not f.is_dir()]
        if missing:
            typer.echo(f"losswatch watch: not a folder: {', '.join(missing)}", err=True)
            raise typer.Exit(2)
        with connect(url, token, timeout=30) as client:
            watcher = Watcher(
                folders,
                client=client,
                project=project,
                name=name,
                early_stopping=policy,
                pid=pid,
                interval=interval,
                say=lambda line: typer.echo(line),
            )
            try:
                watcher.run()
            except (LossWatchError, httpx.HTTPError) as exc:
                typer.echo(f"losswatch watch: {exc}", err=True)
                raise typer.Exit(1) from exc
            except KeyboardInterrupt:
                typer.echo("losswatch watch: interrupted; the runs stay as they are (watch again to go on)")
