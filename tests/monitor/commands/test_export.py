from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from losswatch.monitor.cli import app

runner = CliRunner()


def test_export_csv_has_every_point_of_every_key(seeded, tmp_path: Path) -> None:
    out = tmp_path / "run.csv"
    result = runner.invoke(app, ["export", seeded.run_id, "--format", "csv", "-o", str(out), "--url", seeded.url])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0]) == ["key", "step", "value", "time"]
    assert len(rows) == sum(seeded.counts.values())
    per_key: dict[str, int] = {}
    for r in rows:
        per_key[r["key"]] = per_key.get(r["key"], 0) + 1
    assert per_key == seeded.counts
    grad = [r["value"] for r in rows if r["key"] == "grad_norm"]
    assert grad == ["1.0", "NaN", "Infinity", "-Infinity"]


def test_export_json_to_stdout(seeded) -> None:
    result = runner.invoke(app, ["export", seeded.run_id, "--format", "json", "--url", seeded.url])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))
    assert data["run"]["id"] == seeded.run_id
    assert len(data["points"]) == sum(seeded.counts.values())
    assert [p["value"] for p in data["points"] if p["key"] == "grad_norm"] == [1.0, "NaN", "Infinity", "-Infinity"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["no-such-run"], 1, "no run has an id starting with 'no-such-run'"),
        (["RUN", "--format", "xml"], 2, "csv or json"),
    ],
    ids=["unknown-run", "unknown-format"],
)
def test_export_bad_input_says_what_is_wrong(seeded, args: list[str], code: int, message: str) -> None:
    args = [seeded.run_id if a == "RUN" else a for a in args]
    result = runner.invoke(app, ["export", *args, "--url", seeded.url])
    assert result.exit_code == code
    assert message in result.output


def test_export_csv_neutralises_formula_keys(live_server, tmp_path: Path) -> None:
    url = live_server.url
    rid = httpx.post(f"{url}/api/v1/runs", json={"name": "formulas"}).json()["id"]
    keys = ["=cmd|' /C calc'!A0", '+HYPERLINK("http://x.example","y")', "@SUM(1+1)", "loss"]
    points = [{"key": k, "step": 1, "value": 0.5} for k in keys]
    httpx.post(f"{url}/api/v1/runs/{rid}/metrics", json={"points": points}).raise_for_status()
    out = tmp_path / "f.csv"
    result = runner.invoke(app, ["export", rid, "--format", "csv", "-o", str(out), "--url", url])
    assert result.exit_code == 0, result.output
    got = sorted(r["key"] for r in csv.DictReader(io.StringIO(out.read_text())))
    assert got == sorted(["'=cmd|' /C calc'!A0", '\'+HYPERLINK("http://x.example","y")', "'@SUM(1+1)", "loss"])


def test_export_to_a_reader_that_stops_early_ends_quietly(seeded) -> None:
    # `losswatch export RUN | head -1`: the reader closes the pipe after its first bytes. Like other tools the
    # export then stops without a word and without failing the pipeline.
    proc = subprocess.Popen(
        [sys.executable, "-m", "losswatch", "export", seeded.run_id, "--format", "json", "--url", seeded.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0 and err == "", err
