"""The decision that ingest keeps up to date batch by batch (O(new points)) is the one a replay of the whole stored
history gives (POST /replay), on both backends, whatever the batch cuts, forms and rewrites."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient


def series_batches(rng: np.random.Generator, n: int) -> list[list[dict[str, Any]]]:
    """`loss` at every step and `eval_loss` every 5th over n steps, cut into batches of random sizes."""
    steps = np.arange(1, n + 1)
    loss = 2.0 * np.exp(-steps / 300) + 0.4 + rng.normal(0, 0.04, n)
    ev = 1.8 * np.exp(-steps / 250) + 0.6 + 0.0006 * np.maximum(steps - 500, 0) + rng.normal(0, 0.01, n)
    out, i = [], 0
    while i < n:
        j = min(n, i + int(rng.integers(1, 120)))
        ev_steps = [int(s) for s in steps[i:j] if s % 5 == 0]
        batch = [{"key": "loss", "steps": steps[i:j].tolist(), "values": loss[i:j].tolist()}]
        if ev_steps:
            batch.append({"key": "eval_loss", "steps": ev_steps, "values": [float(ev[s - 1]) for s in ev_steps]})
        out.append(batch)
        i = j
    return out


POLICIES = {
    "default": {},
    "loss-monitor-smoothed": {"monitor": "loss", "rule": "best", "patience": 10000, "smoothing": 0.6},
    "loss-monitor-short-patience": {"monitor": "loss", "rule": "best", "patience": 40, "smoothing": 0.9},
    "eval-window": {"rule": "window", "patience": 8, "min_delta": 0.002, "delta_mode": "abs"},
    "eval-best-smoothed": {"rule": "best", "patience": 6, "smoothing": 0.5},
    "hf": {"compat": "hf", "patience": 4},
}


def replayed(client: TestClient, rid: str, policy: dict) -> dict[str, Any]:
    r = client.post(f"/api/v1/runs/{rid}/replay", json={"early_stopping": policy}).json()
    return r["stop"] if r["stop"] is not None else r["checks"][-1]


def same(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    keys = ("should_stop", "reason", "message", "step", "best_step", "best_value", "monitor", "checks")
    return {k: (a.get(k), b.get(k)) for k in keys if a.get(k) != b.get(k)}


@pytest.mark.parametrize("policy_name", list(POLICIES), ids=list(POLICIES))
def test_incremental_decision_equals_a_replay_of_the_history(client: TestClient, policy_name: str) -> None:
    policy = POLICIES[policy_name]
    rid = client.post("/api/v1/runs", json={"name": policy_name, "early_stopping": policy}).json()["id"]
    rng = np.random.default_rng(len(policy_name))
    last: dict[str, Any] = {}
    for k, batch in enumerate(series_batches(rng, 900)):
        if k % 7 == 3:  # the row form now and then: both forms feed the same state
            body: dict[str, Any] = {
                "points": [
                    {"key": s["key"], "step": st, "value": v}
                    for s in batch
                    for st, v in zip(s["steps"], s["values"], strict=True)
                ]
            }
        else:
            body = {"series": batch}
        r = client.post(f"/api/v1/runs/{rid}/metrics", json=body)
        assert r.status_code == 200, r.text
        last = r.json()["decision"]
        if k % 10 == 0:  # not only at the end
            assert same(last, replayed(client, rid, policy)) == {}
    assert same(last, replayed(client, rid, policy)) == {}
    assert same(client.get(f"/api/v1/runs/{rid}/decision").json(), last) == {}


def test_incremental_decision_after_a_rewrite_of_judged_history(client: TestClient) -> None:
    """An overwrite of an already-judged point (a resume that logs different values) replays the key once; the
    decision is again what a replay of the stored history says, and later batches continue from there."""
    policy = {"monitor": "loss", "rule": "best", "patience": 30, "smoothing": 0.6}
    rid = client.post("/api/v1/runs", json={"name": "rewrite", "early_stopping": policy}).json()["id"]
    batches = series_batches(np.random.default_rng(11), 400)
    for batch in batches[: len(batches) // 2]:
        client.post(f"/api/v1/runs/{rid}/metrics", json={"series": batch})
    redo = [{"key": "loss", "steps": list(range(50, 60)), "values": [0.1 * math.cos(s) + 0.3 for s in range(50, 60)]}]
    r = client.post(f"/api/v1/runs/{rid}/metrics", json={"series": redo}).json()
    assert r["overwritten"] == 10
    assert same(r["decision"], replayed(client, rid, policy)) == {}
    for batch in batches[len(batches) // 2 :]:
        last = client.post(f"/api/v1/runs/{rid}/metrics", json={"series": batch}).json()["decision"]
    assert same(last, replayed(client, rid, policy)) == {}
