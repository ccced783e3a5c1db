"""A resume that brings its own config or policy puts them in force, and the run is judged again under them."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from losswatch.api.app import create_app
from losswatch.monitor.settings import Settings
from tests.conftest import LOCAL

# Best 0.9 at step 200, then three evaluations without improvement.
EVALS = [1.0, 0.9, 0.95, 0.96, 0.97]


def _run(client: TestClient, policy: dict[str, Any] | None, config: dict[str, Any] | None = None) -> None:
    body: dict[str, Any] = {"id": "r1", "name": "r"}
    if policy is not None:
        body["early_stopping"] = policy
    if config is not None:
        body["config"] = config
    assert client.post("/api/v1/runs", json=body).status_code == 201
    points = [{"key": "eval_loss", "step": 100 * (i + 1), "value": v} for i, v in enumerate(EVALS)]
    assert client.post("/api/v1/runs/r1/metrics", json={"points": points}).status_code == 200


def _hf(patience: int) -> dict[str, Any]:
    return {"compat": "hf", "patience": patience}


@pytest.mark.parametrize(
    ("first", "resumed", "stop", "reason", "at"),
    [
        (_hf(1), _hf(5), False, "none", 500),  # stopped too early: a person raises the patience and resumes
        (_hf(5), _hf(2), True, "patience_exhausted", 400),  # a stricter policy stops at once, where it would have
        (_hf(1), None, True, "patience_exhausted", 300),  # a resume that names no policy keeps the stored one
        (_hf(5), _hf(5), False, "none", 500),
    ],
    ids=["raised-patience-goes-on", "lowered-patience-stops", "no-policy-keeps-it", "same-policy"],
)
def test_runs_resume_with_a_policy_judges_the_run_again(
    client: TestClient, first: dict[str, Any], resumed: dict[str, Any] | None, stop: bool, reason: str, at: int
) -> None:
    _run(client, first)
    body: dict[str, Any] = {"id": "r1", "name": "r"} | ({"early_stopping": resumed} if resumed else {})
    r = client.post("/api/v1/runs", json=body)
    assert r.status_code == 200
    assert r.json()["early_stopping"]["patience"] == (resumed or first)["patience"]
    decision = client.get("/api/v1/runs/r1/decision").json()
    got = (decision["should_stop"], decision["reason"], decision["step"], decision["best_step"])
    assert got == (stop, reason, at, 200)
    # The history says what changed, once; a replay of the stored points under the run's policy agrees.
    changes = [(d["should_stop"], d["reason"]) for d in client.get("/api/v1/runs/r1/decisions").json()["decisions"]]
    assert changes[-1] == (stop, reason) and len(changes) == len(set(changes))
    replay = client.post("/api/v1/runs/r1/replay", json={"early_stopping": resumed or first}).json()
    assert bool(replay["stop"]) == stop


def test_runs_resume_merges_the_config_and_keeps_what_it_does_not_send(client: TestClient) -> None:
    _run(client, _hf(1), {"max_steps": 1000, "eval_steps": 100})
    r = client.post("/api/v1/runs", json={"id": "r1", "name": "r", "config": {"max_steps": 3000}})
    assert r.json()["config"] == {"max_steps": 3000, "eval_steps": 100}
    r = client.post("/api/v1/runs", json={"id": "r1", "name": "r"})
    assert r.json()["config"] == {"max_steps": 3000, "eval_steps": 100}
    assert client.get("/api/v1/runs/r1").json()["config"] == {"max_steps": 3000, "eval_steps": 100}


def test_runs_resume_with_a_longer_plan_reads_ahead_to_it(client: TestClient) -> None:
    # The default rule weighs what continuing to the planned end can still win: a resume that extends the
    # run (more epochs, a larger max_steps) is judged against its new end, not the first launch's.
    values = [2.0, 1.6, 1.4, 1.3, 1.25, 1.22, 1.21, 1.205, 1.203, 1.202]
    client.post("/api/v1/runs", json={"id": "r2", "name": "r", "config": {"max_steps": 1500}})
    points = [{"key": "eval_loss", "step": 100 * (i + 1), "value": v} for i, v in enumerate(values)]
    client.post("/api/v1/runs/r2/metrics", json={"points": points})
    assert "continuing to step 1500 " in client.get("/api/v1/runs/r2/decision").json()["message"]
    client.post("/api/v1/runs", json={"id": "r2", "name": "r", "config": {"max_steps": 50000}})
    after = client.get("/api/v1/runs/r2/decision").json()
    assert "continuing to step 50000 " in after["message"] and after["checks"] == len(values)


def test_runs_resume_whose_merged_config_is_too_large_is_refused(settings: Settings, client: TestClient) -> None:
    _run(client, _hf(1), {"notes": "x" * (settings.max_config_bytes // 2)})
    big = {"more": "y" * (settings.max_config_bytes // 2 + 10)}
    r = client.post("/api/v1/runs", json={"id": "r1", "name": "r", "config": big, "early_stopping": _hf(5)})
    assert 400 <= r.status_code < 500 and "max_config_bytes" in r.json()["detail"]
    run = client.get("/api/v1/runs/r1").json()
    assert "more" not in run["config"] and run["early_stopping"]["patience"] == 1
    assert client.get("/api/v1/runs/r1/decision").json()["should_stop"] is True


def test_runs_resume_too_costly_to_judge_again_keeps_the_run_as_it_was(settings: Settings) -> None:
    # Judging a run again holds every other writer for as long (16 ms an evaluation under the default rule): a
    # resume of a 1000-evaluation run held them for 16 s. Past max_check_ms the run keeps what it had, and says so.
    tight = settings.model_copy(update={"max_check_ms": 50.0})
    with TestClient(create_app(tight), base_url=LOCAL) as client:
        client.post("/api/v1/runs", json={"id": "long", "name": "r", "early_stopping": _hf(5)})
        for i in range(10):
            points = [{"key": "eval_loss", "step": 100 * (i + 1), "value": 2.0 - 0.05 * i}]
            assert client.post("/api/v1/runs/long/metrics", json={"points": points}).status_code == 200
        before = client.get("/api/v1/runs/long/decision").json()
        # The default rule: 16 ms a check, 10 checks.
        r = client.post("/api/v1/runs", json={"id": "long", "name": "r", "early_stopping": {"patience": 3}})
        assert r.status_code == 200 and "max_check_ms" in r.json()["kept"], r.json()
        assert client.get("/api/v1/runs/long").json()["early_stopping"]["compat"] == "hf"
        assert client.get("/api/v1/runs/long/decision").json() == before
        # A resume that changes nothing the judgement reads costs nothing and is taken.
        r = client.post("/api/v1/runs", json={"id": "long", "name": "r", "config": {"note": "x"}})
        assert r.json()["kept"] is None and r.json()["config"] == {"note": "x"}
