"""`GET /api/v1/runs/{id}/export`: every point of every key, CSV or JSON, non-finite spelled out."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi.testclient import TestClient

from losswatch.monitor.db import make_engine
from losswatch.monitor.settings import Settings
from losswatch.monitor.store import ingest
from losswatch.monitor.store.values import PointIn

POINTS = [
    {"key": "loss", "step": 1, "value": 2.5, "time": 100.0},
    {"key": "loss", "step": 2, "value": "NaN", "time": 101.0},
    {"key": "loss", "step": 3, "value": 0.1 + 0.2, "time": 102.5},
    {"key": "eval_loss", "step": 2, "value": "Infinity", "time": 101.0},
    {"key": 'weird, "key"', "step": 5, "value": "-Infinity", "time": 103.0},
]


@pytest.fixture
def run_id(client: TestClient) -> str:
    rid = client.post("/api/v1/runs", json={"name": "exp", "id": "exp-1"}).json()["id"]
    assert client.post(f"/api/v1/runs/{rid}/metrics", json={"points": POINTS}).status_code == 200
    return rid


def test_export_csv_every_point_round_trips(client: TestClient, run_id: str) -> None:
    r = client.get(f"/api/v1/runs/{run_id}/export", params={"format": "csv"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert f'filename="losswatch-{run_id}.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    got = {(row["key"], int(row["step"])): (row["value"], float(row["time"])) for row in rows}
    assert len(rows) == len(POINTS)
    assert got[("loss", 2)] == ("NaN", 101.0)
    assert got[("eval_loss", 2)] == ("Infinity", 101.0)
    assert got[('weird, "key"', 5)] == ("-Infinity", 103.0)
    assert float(got[("loss", 3)][0]) == 0.1 + 0.2  # full precision, not a rounded print


def test_export_json_is_strict_json(client: TestClient, run_id: str) -> None:
    r = client.get(f"/api/v1/runs/{run_id}/export", params={"format": "json"})
    assert r.status_code == 200
    data = json.loads(r.text, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))
    assert data["run"]["id"] == run_id
    got = {(p["key"], p["step"]): p["value"] for p in data["points"]}
    assert got == {(p["key"], p["step"]): p["value"] for p in POINTS}


def test_export_of_a_run_without_points_is_just_the_header(client: TestClient) -> None:
    rid = client.post("/api/v1/runs", json={"name": "empty"}).json()["id"]
    assert client.get(f"/api/v1/runs/{rid}/export").text == "key,step,value,time\n"
    assert client.get(f"/api/v1/runs/{rid}/export?format=json").json()["points"] == []


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/api/v1/runs/nope/export", 404),
        ("/api/v1/runs/exp-1/export?format=xml", 422),
    ],
    ids=["unknown-run", "unknown-format"],
)
def test_export_bad_request_is_4xx(client: TestClient, run_id: str, path: str, code: int) -> None:
    r = client.get(path)
    assert r.status_code == code
    assert "detail" in r.json()


FORMULAS = ["=cmd|' /C calc'!A0", '+HYPERLINK("http://x.example","y")', "@SUM(1+1)", "-2+3", "\tx=1", "\rx"]


def test_export_csv_neutralises_formulas(client: TestClient, settings: Settings) -> None:
    rid = client.post("/api/v1/runs", json={"name": "f"}).json()["id"]
    # The service refuses keys with a tab or a carriage return now; an earlier release stored them.
    typed = [k for k in FORMULAS if k.isprintable()]
    pts = [{"key": k, "step": 1, "value": -1.5} for k in typed]
    assert client.post(f"/api/v1/runs/{rid}/metrics", json={"points": pts}).status_code == 200
    engine = make_engine(settings.url)
    try:
        ingest.ingest(engine, run_id=rid, points=[PointIn(k, 1, -1.5) for k in FORMULAS if k not in typed])
    finally:
        engine.dispose()
    rows = list(csv.DictReader(io.StringIO(client.get(f"/api/v1/runs/{rid}/export").text)))
    assert sorted(r["key"] for r in rows) == sorted("'" + k for k in FORMULAS)
    assert {r["value"] for r in rows} == {"-1.5"}  # numbers are ours and stay numbers
