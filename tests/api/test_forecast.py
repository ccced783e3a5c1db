"""GET /runs/{id}/forecast: the contract's fields, the planned horizon as default, and clear 422s."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


def make_run(client: TestClient, evals: list[tuple[int, float | str]], config: dict | None = None) -> str:
    rid = client.post("/api/v1/runs", json={"name": "forecast", "config": config or {}}).json()["id"]
    points = [{"key": "eval_loss", "step": s, "value": v} for s, v in evals]
    assert client.post(f"/api/v1/runs/{rid}/metrics", json={"points": points}).status_code == 200
    return rid


# A loss still falling along a power law, with a little deterministic jitter.
FALLING = [(100 * k, 1.0 + 2.0 * k**-0.5 + (0.004 if k % 2 else -0.004)) for k in range(1, 21)]


def test_forecast_has_the_contract_fields_and_a_sane_interval(client: TestClient) -> None:
    rid = make_run(client, FALLING, {"max_steps": 6000})
    r = client.get(f"/api/v1/runs/{rid}/forecast", params={"key": "eval_loss", "horizon": 4000, "level": 0.8})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {"key", "n_points", "last_step", "horizon", "method", "value", "minimum", "gain"}
    assert (body["key"], body["n_points"], body["last_step"], body["horizon"]) == ("eval_loss", 20, 2000, 4000)
    value, minimum, gain = body["value"], body["minimum"], body["gain"]
    assert value["low"] <= value["expected"] <= value["high"]
    assert minimum["low"] <= minimum["expected"] <= minimum["high"] and 2000 < minimum["step"] <= 4000
    assert 0.0 <= gain["low"] <= gain["expected"] <= gain["high"]
    # The true course at step 4000 is 1 + 2 / sqrt(40) = 1.316; the last reading (step 2000) is 1.451.
    truth = 1.0 + 2.0 * 40**-0.5
    assert value["low"] <= truth <= value["high"] and value["expected"] < 1.44
    assert "power" in body["method"]


def test_forecast_defaults_to_the_monitor_and_the_planned_end(client: TestClient) -> None:
    rid = make_run(client, FALLING, {"max_steps": 6000})
    body = client.get(f"/api/v1/runs/{rid}/forecast").json()
    assert body["key"] == "eval_loss" and body["horizon"] == 6000


@pytest.mark.parametrize(
    "evals,params,words",
    [
        (FALLING[:3], {}, "needs at least 4"),
        (FALLING, {"horizon": 2000}, "must be in the future"),
        (FALLING, {"horizon": 10}, "must be in the future"),
    ],
    ids=["too-few-points", "horizon-at-last-point", "horizon-in-the-past"],
)
def test_forecast_says_why_it_cannot(client: TestClient, evals: list, params: dict, words: str) -> None:
    rid = make_run(client, evals, {"max_steps": 6000})
    r = client.get(f"/api/v1/runs/{rid}/forecast", params=params)
    assert r.status_code == 422 and words in r.json()["detail"], r.text


def test_forecast_past_the_plan_asks_for_a_horizon(client: TestClient) -> None:
    rid = make_run(client, FALLING, {"max_steps": 2000})
    r = client.get(f"/api/v1/runs/{rid}/forecast")
    assert r.status_code == 422 and "planned last step" in r.json()["detail"]


@pytest.mark.parametrize("level", ["0", "1", "1.5", "abc"], ids=["zero", "one", "above-one", "text"])
def test_forecast_rejects_a_bad_level(client: TestClient, level: str) -> None:
    rid = make_run(client, FALLING)
    assert client.get(f"/api/v1/runs/{rid}/forecast", params={"level": level}).status_code == 422


def test_forecast_unknown_key_and_run(client: TestClient) -> None:
    rid = make_run(client, FALLING)
    assert client.get(f"/api/v1/runs/{rid}/forecast", params={"key": "nope"}).status_code == 404
    assert client.get("/api/v1/runs/nope/forecast").status_code == 404


def test_forecast_skips_non_finite_points(client: TestClient) -> None:
    rid = make_run(client, [*FALLING[:10], (1050, "NaN"), *FALLING[10:]], {"max_steps": 6000})
    body = client.get(f"/api/v1/runs/{rid}/forecast").json()
    assert body["n_points"] == 20


# The largest float below 1: a level the contract accepts (< 1) whose tails round to 0 and 1.
NEAR_1 = 0.9999999999999999


@pytest.mark.parametrize(
    ("config", "early_stopping", "level"),
    [
        pytest.param({"max_steps": 1e300}, None, 0.8, id="a-plan-beyond-any-step"),
        pytest.param({"total_steps": "1e300"}, None, 0.8, id="a-text-plan-beyond-any-step"),
        pytest.param(
            {"max_steps": 6000}, {"forecast_level": 0.9999999999999999}, 0.9999999999999999, id="level-near-1"
        ),
    ],
)
def test_forecast_edges_keep_ingest_and_queries_answering(
    client: TestClient, config: dict, early_stopping: dict | None, level: float
) -> None:
    # Both once made the forecast raise inside the ingest transaction: every batch of the run was refused
    # with a 500 and its points lost.
    body: dict = {"name": "edge", "config": config}
    if early_stopping:
        body["early_stopping"] = early_stopping
    rid = client.post("/api/v1/runs", json=body).json()["id"]
    for s, v in FALLING:
        r = client.post(f"/api/v1/runs/{rid}/metrics", json={"points": [{"key": "eval_loss", "step": s, "value": v}]})
        assert r.status_code == 200, r.text
    stored = client.get(f"/api/v1/runs/{rid}/metrics/eval_loss").json()
    assert stored["total"] == len(FALLING)
    assert client.get(f"/api/v1/runs/{rid}/forecast", params={"level": level}).status_code == 200
    assert client.get(f"/api/v1/runs/{rid}/diagnostics").status_code == 200
    assert client.post(f"/api/v1/runs/{rid}/replay", json={}).status_code == 200


RISING_AFTER_BEST = [(100, 1.0), (200, 0.8), (300, 0.7), (400, 0.72), (500, 0.75), (600, 0.78), (700, 0.8), (800, 0.83)]


@pytest.mark.parametrize("level", [0.05, 0.3, 0.5, 0.6], ids=lambda v: f"level-{v}")
def test_low_forecast_levels_keep_ingest_answering(client: TestClient, level: float) -> None:
    # forecast_level 0.5 once made the overfitting check ask scipy for a 0% interval: every batch of the run
    # got a 500 and its points were lost.
    rid = client.post("/api/v1/runs", json={"name": "low-level", "early_stopping": {"forecast_level": level}}).json()[
        "id"
    ]
    points = [{"key": "eval_loss", "step": s, "value": v} for s, v in RISING_AFTER_BEST]
    r = client.post(f"/api/v1/runs/{rid}/metrics", json={"points": points})
    assert r.status_code == 200, r.text
    assert client.get(f"/api/v1/runs/{rid}/metrics/eval_loss").json()["total"] == len(RISING_AFTER_BEST)
    assert client.get(f"/api/v1/runs/{rid}/forecast", params={"level": level}).status_code == 200
    assert client.post(f"/api/v1/runs/{rid}/replay", json={}).status_code == 200
