from __future__ import annotations

from fastapi.testclient import TestClient

from tests.curves import load


def feed(client: TestClient, rid: str, train, evals) -> list[tuple[int, dict]]:
    events = sorted([(s, 0, "loss", v) for s, v in train] + [(s, 1, "eval_loss", v) for s, v in evals])
    out, pending = [], []
    for s, kind, key, v in events:
        pending.append({"key": key, "step": s, "value": v})
        if kind == 1:
            r = client.post(f"/api/v1/runs/{rid}/metrics", json={"points": pending})
            out.append((s, r.json()["decision"]))
            pending = []
    return out


def test_decision_hf_compat_stops_and_is_recorded(client: TestClient) -> None:
    train, evals = load("10_qwen25_medical_eval_epoch_overfit.jsonl")
    policy = {"patience": 3, "compat": "hf"}
    rid = client.post("/api/v1/runs", json={"name": "q", "early_stopping": policy}).json()["id"]
    decisions = feed(client, rid, train, evals)
    first = next(s for s, d in decisions if d["should_stop"])
    assert first == 6000
    d = client.get(f"/api/v1/runs/{rid}/decision").json()
    assert d["should_stop"] and d["reason"] == "patience_exhausted" and d["best_step"] == 4500
    assert "best 1.552 at step 4500" in d["message"]
    history = client.get(f"/api/v1/runs/{rid}/decisions").json()["decisions"]
    assert [h["reason"] for h in history] == ["none", "patience_exhausted"]


def test_decision_manual_stop(client: TestClient) -> None:
    rid = client.post("/api/v1/runs", json={"name": "m"}).json()["id"]
    client.post(f"/api/v1/runs/{rid}/metrics", json={"points": [{"key": "eval_loss", "step": 10, "value": 1.0}]})
    r = client.post(f"/api/v1/runs/{rid}/stop", json={"reason": "looks done"})
    assert r.json()["should_stop"] and r.json()["reason"] == "manual" and "looks done" in r.json()["message"]
    nxt = client.post(f"/api/v1/runs/{rid}/metrics", json={"points": [{"key": "loss", "step": 11, "value": 1.0}]})
    assert nxt.json()["decision"]["reason"] == "manual"


def test_decision_rewind_reopens_a_stopped_run(client: TestClient) -> None:
    policy = {"patience": 1, "compat": "lightning"}
    rid = client.post("/api/v1/runs", json={"name": "r", "early_stopping": policy}).json()["id"]
    pts = [{"key": "eval_loss", "step": s, "value": v} for s, v in [(10, 1.0), (20, 0.9), (30, 1.1)]]
    assert client.post(f"/api/v1/runs/{rid}/metrics", json={"points": pts}).json()["decision"]["should_stop"]
    after = client.post(f"/api/v1/runs/{rid}/rewind", json={"step": 20}).json()
    assert after["decision"]["should_stop"] is False and after["decision"]["best_step"] == 20


def test_decision_out_of_order_eval_replays_history(client: TestClient) -> None:
    policy = {"patience": 2, "compat": "lightning"}
    rid = client.post("/api/v1/runs", json={"name": "o", "early_stopping": policy}).json()["id"]
    for s, v in [(10, 1.0), (30, 1.1)]:
        client.post(f"/api/v1/runs/{rid}/metrics", json={"points": [{"key": "eval_loss", "step": s, "value": v}]})
    d = client.post(
        f"/api/v1/runs/{rid}/metrics", json={"points": [{"key": "eval_loss", "step": 20, "value": 1.2}]}
    ).json()["decision"]
    assert d["should_stop"] and d["step"] == 30 and d["checks"] == 3


def test_replay_reports_every_check_and_the_first_stop(client: TestClient) -> None:
    train, evals = load("03_whisper_flemish_late_overfit.json")
    rid = client.post("/api/v1/runs", json={"name": "w"}).json()["id"]
    feed(client, rid, train, evals)
    r = client.post(f"/api/v1/runs/{rid}/replay", json={"early_stopping": {"patience": 1, "compat": "hf"}}).json()
    assert r["stop"]["step"] == 4000 and len(r["checks"]) == 4
    assert client.post(f"/api/v1/runs/{rid}/replay", json={}).status_code == 200


def test_decision_default_guard_stops_a_diverged_run_without_eval(client: TestClient) -> None:
    train, _ = load("05_qlora_lr5_divergence.json")
    rid = client.post("/api/v1/runs", json={"name": "lr5"}).json()["id"]
    for s, v in train:
        d = client.post(f"/api/v1/runs/{rid}/metrics", json={"points": [{"key": "loss", "step": s, "value": v}]}).json()
    assert d["decision"]["should_stop"] and d["decision"]["reason"] == "divergence_threshold"
    assert "diverged" in d["decision"]["message"]


def test_decision_resuming_a_manually_stopped_run_clears_the_stop(client: TestClient) -> None:
    rid = client.post("/api/v1/runs", json={"id": "again", "name": "m"}).json()["id"]
    client.post(f"/api/v1/runs/{rid}/stop", json={})
    client.patch(f"/api/v1/runs/{rid}", json={"status": "stopped"})
    assert client.post("/api/v1/runs", json={"id": "again", "name": "m"}).status_code == 200
    d = client.get(f"/api/v1/runs/{rid}/decision").json()
    assert d["should_stop"] is False and d["reason"] == "none"
