"""Every `losswatch` command, whoever added it, shows an example in its help."""

from __future__ import annotations

from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from losswatch.monitor.cli import app

runner = CliRunner()


def leaves(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every runnable command under `group`, as the words that call it (`db upgrade`)."""
    out = []
    for name, cmd in group.commands.items():
        # Typer vendors its own click, so a group is recognized by what it has, not by its class.
        if hasattr(cmd, "commands"):
            out += leaves(cmd, (*prefix, name))
        else:
            out.append((*prefix, name))
    return out


ROOT: Any = typer.main.get_command(app)  # a group: its .commands are the subcommands
COMMANDS = leaves(ROOT)


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in ROOT.commands:
        assert name in result.output
    assert {"report", "plot", "export", "serve"} <= {c[0] for c in COMMANDS}


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_help_of_every_command_has_an_example(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output
    assert f"losswatch {' '.join(path)}" in result.output  # the example is a command line to copy
