"""`losswatch sync`: deliver a trainer's spool after the fact (like `wandb sync`)."""

from __future__ import annotations

from pathlib import Path

import typer

from losswatch.monitor import cli_options as options


def is_spool(folder: Path) -> bool:
    """A spool holds its segments (seg-*.jsonl) or, once all is delivered, its cursor."""
    return any(folder.glob("seg-*.jsonl")) or (folder / "cursor.json").is_file()


def register(app: typer.Typer) -> None:
    @app.command("sync")
    def sync(
        spool_dir: Path = typer.Argument(..., help="a spool folder, usually <output_dir>/.losswatch"),
        url: str = options.URL,
        token: str | None = options.TOKEN,
    ) -> None:
        """Send what a training run could not deliver; running it twice changes nothing.

        Example: losswatch sync output/.losswatch --url http://127.0.0.1:8000
        """

        from losswatch.monitor.restclient import connect
        from losswatch.monitor.spool import SPOOL_DIRNAME, Spool, SpoolBusy, replay

        if not spool_dir.is_dir():
            typer.echo(f"losswatch sync: {spool_dir} is not a folder", err=True)
            raise typer.Exit(2)
        if not is_spool(spool_dir) and (spool_dir / SPOOL_DIRNAME).is_dir():
            spool_dir = spool_dir / SPOOL_DIRNAME  # given the output dir itself
        if not is_spool(spool_dir):
            typer.echo(
                f"losswatch sync: {spool_dir} is not a losswatch spool (it has no seg-*.jsonl files). A trainer "
                f"spools into <output_dir>/{SPOOL_DIRNAME}, LossWatchClient into ./{SPOOL_DIRNAME}; give that folder "
                "or the output folder that holds it",
                err=True,
            )
            raise typer.Exit(2)
        spool = Spool(spool_dir)
        try:
            spool.lock()
        except SpoolBusy as exc:
            typer.echo(f"losswatch sync: {exc}", err=True)
            raise typer.Exit(1) from exc
        try:
            with connect(url, token, timeout=60) as http:
                result = replay(spool, http)
        finally:
            spool.close()
        c = result.counts
        if result.records == 0 and not result.error:
            typer.echo(f"{spool_dir}: nothing to deliver")
        else:
            refused = f", {len(result.rejected)} refused (below)" if result.rejected else ""
            typer.echo(
                f"{spool_dir}: {result.records - len(result.rejected)} records delivered{refused}: "
                f"{c.get('metrics', 0)} batches "
                f"({c.get('accepted', 0)} new points, {c.get('duplicates', 0)} already there, "
                f"{c.get('overwritten', 0)} replaced), {c.get('rewind', 0)} rewinds "
                f"({c.get('replayed', 0)} already applied), {c.get('status', 0)} status changes"
            )
        for reason in result.rejected:
            typer.echo(f"  refused: {reason}", err=True)
        if result.error:
            typer.echo(
                f"losswatch sync: stopped at {url}: {result.error}; {result.left} records still wait (run it again)",
                err=True,
            )
            raise typer.Exit(1)
