"""Files the commands write: refused up front, with a sentence, when they cannot be written."""

from __future__ import annotations

from pathlib import Path

import typer


def refuse_output(output: Path, command: str) -> None:
    """Exit with a sentence when `output` cannot be written where it points (before any work is done)."""
    folder = output.expanduser().resolve().parent
    if not folder.is_dir():
        typer.echo(f"losswatch {command}: the folder {folder} does not exist; create it or write elsewhere", err=True)
        raise typer.Exit(2)
    if output.is_dir():
        typer.echo(f"losswatch {command}: {output} is a folder; give a file name", err=True)
        raise typer.Exit(2)
