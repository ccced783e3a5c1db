from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.curves import load


def make_run(client: TestClient, curve: str, config: dict | None = None) -> str:
    train, evals = load(curve)
    rid = client.post("/api/v1/runs", json={"name": curve, "config": config or {}}).json()["id"]
    points = [{"key": "loss", "step": s, "value": v} for s, v in train]
    points += [{"key": "eval_loss", "step": s, "value": v} for s, v in evals]
    assert client.post(f"/api/v1/runs/{rid}/metrics", json={"points": points}).status_code == 200
    return rid


@pytest.mark.parametrize(
    "curve,key,states",
    [
        ("05_qlora_lr5_divergence.json", "loss", {"diverging"}),
        ("14_tinyllama_healthy_converging.json", "eval_loss", {"improving"}),
        ("10_qwen25_medical_eval_epoch_overfit.jsonl", "eval_loss", {"overfitting", "plateaued"}),
    ],
    ids=["divergence", "healthy", "epoch-overfit"],
)
def test_diagnostics_reads_real_curves(client: TestClient, curve: str, key: str, states: set[str]) -> None:
    rid = make_run(client, curve)
    body = client.get(f"/api/v1/runs/{rid}/diagnostics", params={"key": key}).json()
    assert body["key"] == key and body["state"] in states
    assert set(body) >= {"trend", "volatility", "spikes", "overfitting", "advice", "summary"}


def test_diagnostics_defaults_to_the_monitored_key_and_speaks_chinese(client: TestClient) -> None:
    rid = make_run(client, "14_tinyllama_healthy_converging.json")
    body = client.get(f"/api/v1/runs/{rid}/diagnostics", params={"lang": "zh"}).json()
    assert body["key"] == "eval_loss" and re.search(r"[\u4e00-\u9fff]", body["summary"])


def test_diagnostics_before_any_point_gives_config_advice(client: TestClient) -> None:
    rid = client.post("/api/v1/runs", json={"name": "new", "config": {"eval_strategy": "no"}}).json()["id"]
    body = client.get(f"/api/v1/runs/{rid}/diagnostics", params={"key": "loss"}).json()
    assert body["state"] == "insufficient_data"
    assert body["advice"], "a run without evaluation must be told early stopping cannot work"


def test_diagnostics_unknown_run_and_bad_lang(client: TestClient) -> None:
    assert client.get("/api/v1/runs/nope/diagnostics").status_code == 404
    rid = client.post("/api/v1/runs", json={"name": "x"}).json()["id"]
    assert client.get(f"/api/v1/runs/{rid}/diagnostics", params={"lang": "fr"}).status_code == 422
