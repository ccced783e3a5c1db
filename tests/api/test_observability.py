from __future__ import annotations

import json
import logging

from fastapi.testclient import TestClient


def test_prometheus_metrics_count_requests_points_and_decisions(client: TestClient) -> None:
    policy = {"patience": 1, "compat": "hf"}
    rid = client.post("/api/v1/runs", json={"name": "p", "early_stopping": policy}).json()["id"]
    pts = [{"key": "eval_loss", "step": s, "value": v} for s, v in [(1, 1.0), (2, 2.0)]]
    client.post(f"/api/v1/runs/{rid}/metrics", json={"points": pts})
    text = client.get("/metrics").text
    assert 'losswatch_runs{status="running"} 1.0' in text
    assert "losswatch_points_stored 2.0" in text
    assert 'losswatch_decisions{reason="patience_exhausted"} 1.0' in text
    assert 'route="/api/v1/runs/{run_id}/metrics"' in text and "losswatch_points_ingested_total" in text


def test_access_log_is_one_json_line_per_request(client: TestClient, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="losswatch.access"):
        client.get("/api/v1/runs/nope")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "losswatch.access"]
    assert lines[-1]["status"] == 404 and lines[-1]["run_id"] == "nope"
    assert lines[-1]["route"] == "/api/v1/runs/{run_id}"
