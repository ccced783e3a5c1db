"""PATCH /runs/{id} carries the best checkpoint; GET /runs/{id} shows it (null until reported)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


def test_best_checkpoint_is_null_then_reported_and_kept_across_status(client: TestClient) -> None:
    rid = client.post("/api/v1/runs", json={"name": "a"}).json()["id"]
    assert client.get(f"/api/v1/runs/{rid}").json()["best_checkpoint"] is None
    best = {"step": 400, "path": "/out/checkpoint-400"}
    r = client.patch(f"/api/v1/runs/{rid}", json={"best_checkpoint": best})
    assert r.status_code == 200 and r.json()["best_checkpoint"] == best and r.json()["status"] == "running"
    client.patch(f"/api/v1/runs/{rid}", json={"status": "stopped"})
    body = client.get(f"/api/v1/runs/{rid}").json()
    assert body["best_checkpoint"] == best and body["status"] == "stopped"
    assert client.get("/api/v1/runs").json()["runs"][0]["best_checkpoint"] == best


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "give status, best_checkpoint or both"),
        ({"best_checkpoint": {"step": -1, "path": "/x"}}, "greater than or equal to 0"),
        ({"best_checkpoint": {"step": 4}}, "path"),
        ({"best_checkpoint": {"step": 4, "path": ""}}, "at least 1 character"),
    ],
    ids=["empty", "negative-step", "no-path", "empty-path"],
)
def test_patch_rejects_a_bad_body_with_422(client: TestClient, body: dict, says: str) -> None:
    rid = client.post("/api/v1/runs", json={"name": "a"}).json()["id"]
    r = client.patch(f"/api/v1/runs/{rid}", json=body)
    assert r.status_code == 422 and says in str(r.json()["detail"])
