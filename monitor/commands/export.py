"""`losswatch export RUN --format csv|json`: every point of every key, to a file or stdout."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import typer

from losswatch.monitor import cli_options as options


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export(
        run: str = typer.Argument(..., help="run id (or a unique start of it)"),
        fmt: str = typer.Option("csv", "--format", help="csv (key,step,value,time) or json"),
        output: Path | None = typer.Option(None, "-o", "--output", help="file to write (default: stdout)"),
        url: str = options.URL,
        token: str | None = options.TOKEN,
    ) -> None:
        """Export every point of every metric of a run; non-finite values are written NaN/Infinity/-Infinity.

        Example: losswatch export 3f9c2a1b --format csv -o run.csv
        """
        import httpx

        from losswatch.monitor.outfile import refuse_output
        from losswatch.monitor.restclient import RunNotFound, connect, explain, find_run

        if fmt not in ("csv", "json"):
            raise typer.BadParameter("must be csv or json", param_hint="--format")
        if output is not None:
            refuse_output(output, "export")
        written = 0
        try:
            with connect(url, token, timeout=300) as client:
                run_id = find_run(client, run)["id"]
                with client.stream("GET", f"/api/v1/runs/{run_id}/export", params={"format": fmt}) as r:
                    if r.is_error:
                        r.read()
                        r.raise_for_status()
                    # Streamed to the destination, so a long run never sits whole in memory.
                    written = _copy(r, output)
        except RunNotFound as exc:
            typer.echo(f"losswatch export: {exc}", err=True)
            raise typer.Exit(1) from exc
        except BrokenPipeError as exc:
            # The reader went away (`| head`): what it wanted it has; no complaint, as other tools behave.
            # stdout is pointed at /dev/null so the interpreter's own flush at exit does not fail again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(0) from exc
        except OSError as exc:
            where = output if output else "to standard output"
            typer.echo(f"losswatch export: cannot write {where}: {exc.strerror or exc}", err=True)
            raise typer.Exit(1) from exc
        except httpx.HTTPError as exc:
            typer.echo(f"losswatch export: {explain(exc, url)}", err=True)
            raise typer.Exit(1) from exc
        if output:
            typer.echo(f"{output}: {written} bytes", err=True)


def _copy(r: Any, output: Path | None) -> int:
    written = 0
    sink = output.open("wb") if output else sys.stdout.buffer
    try:
        for chunk in r.iter_bytes():
            sink.write(chunk)
            written += len(chunk)
    finally:
        if output:
            sink.close()
        else:
            sink.flush()
    return written
