"""compat "hf" and "lightning" through the REST API, one point per request as a training loop sends them:
a representative subset of the library suites (tests/monitor/test_stopping_*_suite.py), with the library
itself as the oracle, and the policies the libraries would refuse or accept."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.monitor import test_stopping_hf_suite as hf_suite
from tests.monitor import test_stopping_lightning_suite as pl_suite
from tests.monitor.test_stopping_lightning_min_steps import lightning_fit
from tests.oracles import hf_run, lightning_run


def wire(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def send_one_by_one(client: TestClient, policy: dict[str, Any], points: list[tuple[str, int, float]]) -> dict | None:
    """The first decision that says stop, or None."""
    r = client.post("/api/v1/runs", json={"name": "compat", "early_stopping": policy})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    for key, step, value in points:
        r = client.post(
            f"/api/v1/runs/{rid}/metrics", json={"points": [{"key": key, "step": step, "value": wire(value)}]}
        )
        assert r.status_code == 200, r.text
        decision = r.json()["decision"]
        if decision["should_stop"]:
            return decision
    return None


LIGHTNING_SUBSET = [
    "patience-flat-after-drop-p3",
    "stopping-threshold-2.9",
    "divergence-threshold-15.9",
    "non-finite-nan",
    "reasons-patience-high-loss",
    "no-val-step-patience-0-min-delta-0.1",
]
LIGHTNING_FLOAT32_SUBSET = ["f32-stopping-threshold-tie", "f32-min-delta-tie", "f32-negative-min-delta"]


@pytest.mark.parametrize("name", LIGHTNING_SUBSET + LIGHTNING_FLOAT32_SUBSET)
def test_api_lightning_compat_one_point_per_request(client: TestClient, name: str) -> None:
    if name.startswith("f32-"):
        _, values, kw = next(c for c in pl_suite.FLOAT32 if c[0] == name)
        monitor = "val_loss"
    else:
        _, monitor, values, kw, _ = next(c for c in pl_suite.SUITE if c[0] == name)
    evals = pl_suite.evals_of(values)
    theirs = lightning_run(evals, monitor=monitor, **kw)
    decision = send_one_by_one(
        client, {"compat": "lightning", "monitor": monitor, **kw}, [(monitor, s, v) for s, v in evals]
    )
    if theirs.stop is None:
        assert decision is None
        return
    assert decision is not None and (decision["step"], decision["reason"]) == (theirs.stop, theirs.reason)
    words = pl_suite.GREP_WORDS[decision["reason"]].format(wait=theirs.wait)
    assert words in decision["message"]


def test_api_lightning_min_steps_ends_where_the_fit_ends(client: TestClient, tmp_path: Path) -> None:
    fit = lightning_fit(tmp_path, [0.0], limit_train_batches=3, min_epochs=0, min_steps=10, stopping_threshold=1.0)
    # The training loss of a step is logged before the check at the end of that step's epoch.
    ordered = sorted([(s, 1, "foo", v) for s, v in fit.checks] + [(s, 0, "loss", v) for s, v in fit.losses])
    points = [(key, s, v) for s, _, key, v in ordered]
    policy = {"compat": "lightning", "monitor": "foo", "stopping_threshold": 1.0, "min_steps": 10}
    decision = send_one_by_one(client, policy, points)
    assert decision is not None and (decision["step"], decision["reason"]) == (fit.global_step, fit.reason) == (
        10,
        "stopping_threshold",
    )
    assert "Stopping threshold reached" in decision["message"] and "min_steps" in decision["message"]


HF_SUBSET = [
    "counter-resets-on-improvement",
    "defaults-accuracy-without-prefix",
    "defaults-accuracy-rising-is-better",
    "patience-0-stops-at-first-evaluation",
    "negative-threshold",
    "nan-middle",
]


@pytest.mark.parametrize("name", HF_SUBSET)
def test_api_hf_compat_one_point_per_request(client: TestClient, tmp_path: Path, name: str) -> None:
    _, metric, greater, values, kw, _ = next(c for c in hf_suite.SUITE if c[0] == name)
    evals = hf_suite.evals_of(values)
    theirs = hf_run(evals, str(tmp_path), metric=metric, greater_is_better=greater, **kw)
    # The policy as a user writes it, with only what they would give transformers.
    policy = hf_suite.policy_for(metric, greater, kw).model_dump(
        include={"compat", "monitor", "mode", "patience", "min_delta"}
    )
    if greater is None:
        policy.pop("mode")
    policy["monitor"] = metric
    # The Trainer logs the metric as eval_<name>; that is what a client forwards.
    decision = send_one_by_one(client, policy, [(theirs.metric, s, v) for s, v in evals])
    assert (decision["step"] if decision else None) == theirs.stop
    if decision:
        assert decision["reason"] == "patience_exhausted" and decision["monitor"] == theirs.metric


REFUSED: list[tuple[dict[str, Any], str]] = [
    ({"compat": "hf", "stopping_threshold": 0.5}, "no option `stopping_threshold`"),
    ({"compat": "hf", "divergence_threshold": 5.0}, "no option `divergence_threshold`"),
    ({"compat": "hf", "min_steps": 100}, "no option `min_steps`"),
    ({"compat": "hf", "smoothing": 0.6}, "no option `smoothing`"),
    ({"compat": "hf", "check_finite": True}, "no option `check_finite`"),
    ({"compat": "hf", "rule": "trend"}, "no option `rule`"),
    ({"compat": "lightning", "smoothing": 0.6}, "no option `smoothing`"),
    ({"compat": "lightning", "rule": "window"}, "no option `rule`"),
    ({"compat": "lightning", "delta_mode": "rel"}, "no option `delta_mode`"),
    ({"compat": "lightning", "trend_window": 20}, "no option `trend_window`"),
    ({"patience": 0}, "patience must be at least 1"),
    ({"min_delta": -0.01}, "min_delta must be >= 0"),
]


@pytest.mark.parametrize(
    "policy,says", REFUSED, ids=[f"{p.get('compat')}-{next(iter(set(p) - {'compat'}))}" for p, _ in REFUSED]
)
def test_api_policy_a_library_would_not_take_is_422(client: TestClient, policy: dict, says: str) -> None:
    for r in (
        client.post("/api/v1/runs", json={"name": "x", "early_stopping": policy}),
        client.post(f"/api/v1/runs/{_a_run(client)}/replay", json={"early_stopping": policy}),
    ):
        assert r.status_code == 422
        assert says in str(r.json()["detail"])


ACCEPTED: list[dict[str, Any]] = [
    {"compat": "lightning", "patience": 0},
    {"compat": "lightning", "min_delta": -0.1},
    {"compat": "hf", "patience": 0},
    {"compat": "hf", "min_delta": -0.5},
    {"compat": "hf", "check_finite": False, "stopping_threshold": None, "min_steps": 0},  # neutral values
    {"compat": "lightning", "min_steps": 500, "stopping_threshold": 0.1, "divergence_threshold": 9.0},
]


@pytest.mark.parametrize("policy", ACCEPTED, ids=[str(p) for p in ACCEPTED])
def test_api_policy_the_library_accepts_is_accepted_and_reads_back(client: TestClient, policy: dict) -> None:
    r = client.post("/api/v1/runs", json={"name": "x", "early_stopping": policy})
    assert r.status_code == 201, r.text
    stored = client.get(f"/api/v1/runs/{r.json()['id']}").json()["early_stopping"]
    assert {k: stored[k] for k in policy} == policy
    # What GET returns can be sent back as it is.
    assert client.post(f"/api/v1/runs/{r.json()['id']}/replay", json={"early_stopping": stored}).status_code == 200


def _a_run(client: TestClient) -> str:
    return client.post("/api/v1/runs", json={"name": "target"}).json()["id"]
