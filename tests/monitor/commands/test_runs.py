"""`losswatch runs` lists runs; every command that takes a run accepts a unique start of its id, as git does."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from losswatch.monitor.cli import app

from .conftest import Seeded

runner = CliRunner()


def make_run(url: str, run_id: str, name: str, status: str | None = None) -> None:
    httpx.post(f"{url}/api/v1/runs", json={"id": run_id, "name": name, "project": "ids"}, timeout=10).raise_for_status()
    if status:
        httpx.patch(f"{url}/api/v1/runs/{run_id}", json={"status": status}, timeout=10).raise_for_status()


@pytest.fixture(scope="module")
def twins(seeded: Seeded) -> Seeded:
    make_run(seeded.url, "abc123", "first", "finished")
    make_run(seeded.url, "abc456", "second")
    return seeded


def test_runs_lists_runs_newest_first_with_status(twins: Seeded) -> None:
    result = runner.invoke(app, ["runs", "--url", twins.url])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["ID", "PROJECT", "NAME", "STATUS", "CREATED", "ENDED"]
    ids = [line.split()[0] for line in lines[1:]]
    assert ids.index("abc456") < ids.index("abc123") < ids.index(twins.run_id)
    first = next(line for line in lines if line.startswith("abc123"))
    assert first.split()[1:4] == ["ids", "first", "finished"]


def test_runs_filters_by_project_and_status(twins: Seeded) -> None:
    result = runner.invoke(app, ["runs", "--project", "ids", "--status", "finished", "--url", twins.url])
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in result.output.splitlines()[1:]] == ["abc123"]


@pytest.mark.parametrize(
    "command",
    [["report"], ["export"], ["plot", "-o", "{tmp}/x.png"]],
    ids=["report", "export", "plot"],
)
def test_runs_unique_prefix_names_the_run_in_every_command(twins: Seeded, tmp_path: Path, command: list[str]) -> None:
    prefix = twins.run_id[:6]
    args = [command[0], prefix, *(a.format(tmp=tmp_path) for a in command[1:]), "--url", twins.url]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    if command[0] == "report":
        assert twins.run_id in result.output
    if command[0] == "export":
        assert result.output.startswith("key,step,value,time")


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("abc", "'abc' is the start of 2 run ids: abc456 (second), abc123 (first)"),
        ("zzz", "no run has an id starting with 'zzz'; `losswatch runs` lists them"),
    ],
    ids=["ambiguous", "unknown"],
)
@pytest.mark.parametrize("command", ["report", "export", "plot"])
def test_runs_ambiguous_or_unknown_prefix_says_so(
    twins: Seeded, tmp_path: Path, command: str, typed: str, said: str
) -> None:
    extra = ["-o", str(tmp_path / "x.png")] if command == "plot" else []
    result = runner.invoke(app, [command, typed, *extra, "--url", twins.url])
    assert result.exit_code == 1
    assert said in " ".join(result.output.split())
    assert "Traceback" not in result.output
