from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from losswatch.api.app import create_app
from losswatch.monitor.settings import Settings
from tests.conftest import LOCAL


def test_runs_create_returns_201_and_resume_returns_200(client: TestClient) -> None:
    r = client.post("/api/v1/runs", json={"id": "abc", "name": "first", "project": "p1"})
    assert r.status_code == 201 and r.json()["id"] == "abc" and r.json()["project"] == "p1"
    again = client.post("/api/v1/runs", json={"id": "abc", "name": "first", "project": "p1"})
    assert again.status_code == 200 and again.json()["id"] == "abc"


def test_runs_same_id_in_another_project_is_a_conflict(client: TestClient) -> None:
    client.post("/api/v1/runs", json={"id": "abc", "name": "x", "project": "p1"})
    r = client.post("/api/v1/runs", json={"id": "abc", "name": "x", "project": "p2"})
    # The answer does not say where the id lives (a token of p2 must not learn that p1 has it).
    assert r.status_code == 409 and "not available" in r.json()["detail"] and "p1" not in r.json()["detail"]


def test_runs_list_filters_by_project_and_status(client: TestClient) -> None:
    a = client.post("/api/v1/runs", json={"name": "a", "project": "p1"}).json()["id"]
    client.post("/api/v1/runs", json={"name": "b", "project": "p2"})
    client.patch(f"/api/v1/runs/{a}", json={"status": "finished"})
    assert [r["name"] for r in client.get("/api/v1/runs", params={"project": "p1"}).json()["runs"]] == ["a"]
    assert [r["name"] for r in client.get("/api/v1/runs", params={"status": "running"}).json()["runs"]] == ["b"]
    assert len(client.get("/api/v1/runs").json()["runs"]) == 2


def test_runs_get_has_keys_and_decision(client: TestClient) -> None:
    rid = client.post("/api/v1/runs", json={"name": "a"}).json()["id"]
    client.post(f"/api/v1/runs/{rid}/metrics", json={"points": [{"key": "loss", "step": 1, "value": 2.0}]})
    body = client.get(f"/api/v1/runs/{rid}").json()
    assert body["keys"][0]["key"] == "loss" and body["keys"][0]["count"] == 1
    assert body["decision"]["should_stop"] is False and body["decision"]["monitor"] == "eval_loss"


def test_runs_patch_rejects_unknown_status(client: TestClient) -> None:
    rid = client.post("/api/v1/runs", json={"name": "a"}).json()["id"]
    r = client.patch(f"/api/v1/runs/{rid}", json={"status": "exploded"})
    assert r.status_code == 422


def test_runs_policy_is_validated(client: TestClient) -> None:
    r = client.post("/api/v1/runs", json={"name": "a", "early_stopping": {"patience": 0}})
    assert r.status_code == 422 and "patience" in r.text
    r = client.post("/api/v1/runs", json={"name": "a", "early_stopping": {"patient": 3}})
    assert r.status_code == 422 and "patient" in r.text


@pytest.mark.parametrize("bad", ["../etc", "abc\n", "a/b", "", "-lead", "x" * 65], ids=lambda b: repr(b)[:12])
def test_runs_bad_id_is_rejected(client: TestClient, bad: str) -> None:
    # "abc\n" once passed: a pattern's `$` matches before a trailing newline; such an id is in no URL.
    r = client.post("/api/v1/runs", json={"id": bad, "name": "a"})
    assert r.status_code == 422 and "id" in str(r.json()["detail"])


def test_runs_unknown_is_404(client: TestClient) -> None:
    for method, path in [
        ("get", "/api/v1/runs/nope"),
        ("get", "/api/v1/runs/nope/metrics"),
        ("get", "/api/v1/runs/nope/decision"),
        ("get", "/api/v1/runs/nope/decisions"),
        ("get", "/api/v1/runs/nope/metrics/loss"),
    ]:
        assert getattr(client, method)(path).status_code == 404, path
    assert client.patch("/api/v1/runs/nope", json={"status": "finished"}).status_code == 404


def test_index_page_serves_the_dashboard(client: TestClient) -> None:
    # The list itself is drawn by the page's script from /api/v1/runs (tests/api/dashboard drive it).
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "<script" in page.text


def test_runs_name_limit_is_a_setting_named_in_the_error(tmp_path, sqlite_url) -> None:
    from losswatch.api.app import create_app
    from losswatch.monitor.settings import Settings

    with TestClient(create_app(Settings(database_url=sqlite_url, max_name_length=10)), base_url=LOCAL) as c:
        r = c.post("/api/v1/runs", json={"name": "a-rather-long-name"})
        assert r.status_code == 413 and "max_name_length" in r.json()["detail"]
        assert c.post("/api/v1/runs", json={"name": "short"}).status_code == 201


def test_vocabulary_route_serves_the_shared_lists(client) -> None:
    body = client.get("/api/v1/vocabulary").json()
    assert body["non_finite"] == ["NaN", "Infinity", "-Infinity"]
    assert "patience_exhausted" in body["reasons"] and "eval" in body["eval_key_pattern"]


def test_openapi_every_operation_is_described(client) -> None:
    spec = client.get("/openapi.json").json()
    missing = [
        f"{method.upper()} {path}"
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if path.startswith("/api/v1") and not op.get("description")
    ]
    assert missing == []


def test_runs_delete_removes_the_run_with_its_data(client: TestClient) -> None:
    rid = client.post("/api/v1/runs", json={"name": "gone"}).json()["id"]
    keep = client.post("/api/v1/runs", json={"name": "kept"}).json()["id"]
    for r in (rid, keep):
        pts = [{"key": k, "step": s, "value": 1.0 / s} for k in ("loss", "eval_loss") for s in range(1, 30)]
        client.post(f"/api/v1/runs/{r}/metrics", json={"points": pts, "batch_id": "same"})
    assert client.delete(f"/api/v1/runs/{rid}").status_code == 204
    assert client.get(f"/api/v1/runs/{rid}").status_code == 404
    assert client.delete(f"/api/v1/runs/{rid}").status_code == 404
    assert [r["id"] for r in client.get("/api/v1/runs").json()["runs"]] == [keep]
    assert client.get(f"/api/v1/runs/{keep}/metrics").json()["keys"][0]["count"] == 29
    with client.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM metric_points").scalar() == 58
        for table in ("metric_keys", "decisions", "stop_states", "ingest_batches"):
            q = f"SELECT COUNT(*) FROM {table} WHERE run_id = '{rid}'"
            assert conn.exec_driver_sql(q).scalar() == 0, table
    # The id is free again: a new run may take it.
    assert client.post("/api/v1/runs", json={"id": rid, "name": "again"}).status_code == 201


def test_runs_list_pages_with_a_total(client: TestClient) -> None:
    made = [client.post("/api/v1/runs", json={"name": f"r{i}"}).json()["id"] for i in range(5)]
    pages = [client.get("/api/v1/runs", params={"limit": 2, "offset": o}).json() for o in (0, 2, 4)]
    assert [len(p["runs"]) for p in pages] == [2, 2, 1] and {p["total"] for p in pages} == {5}
    seen = [r["id"] for p in pages for r in p["runs"]]
    assert sorted(seen) == sorted(made) and len(set(seen)) == 5
    assert client.get("/api/v1/runs", params={"limit": 0}).status_code == 422


START_CONFIGS = {
    "no-validation": {"per_device_train_batch_size": 8, "gradient_accumulation_steps": 4},
    "evaluates-rarely": {"max_steps": 1000, "eval_strategy": "steps", "eval_steps": 500, "logging_steps": 10},
    "logs-too-rarely": {"max_steps": 100, "eval_strategy": "steps", "eval_steps": 10, "logging_steps": 50},
    "empty": {},
}


@pytest.mark.parametrize(
    ("config", "early_stopping"),
    [(c, None) for c in START_CONFIGS.values()] + [(START_CONFIGS["no-validation"], {"monitor": "val_loss"})],
    ids=[*START_CONFIGS, "monitors-val_loss"],
)
def test_runs_create_answers_the_start_advice_the_diagnosis_gives(
    tmp_path, db_url: str, config: dict, early_stopping: dict | None
) -> None:
    settings = Settings(database_url=db_url, data_dir=tmp_path / "data", stale_after=123.5)
    with TestClient(create_app(settings), base_url=LOCAL) as client:
        body = {"name": "start", "config": config, **({"early_stopping": early_stopping} if early_stopping else {})}
        created = client.post("/api/v1/runs", json=body)
        assert created.status_code == 201
        rid = created.json()["id"]
        diagnosis = client.get(f"/api/v1/runs/{rid}/diagnostics", params={"key": "loss"}).json()
        # The sender used to ask the diagnosis for this at train begin; the creation answer saves that request.
        assert created.json()["advice"] == diagnosis["advice"]
        assert created.json()["stale_after"] == 123.5
        points = {"points": [{"key": "eval_loss", "step": 10, "value": 1.5}, {"key": "loss", "step": 10, "value": 2}]}
        assert client.post(f"/api/v1/runs/{rid}/metrics", json=points).status_code == 200
        # A resumed run has points the configuration alone does not know of: its advice is its diagnosis's.
        resumed = client.post("/api/v1/runs", json={**body, "id": rid})
        assert resumed.status_code == 200 and resumed.json()["advice"] is None
        assert resumed.json()["stale_after"] == 123.5


def test_runs_create_advice_differs_with_the_config(client: TestClient) -> None:
    codes = {
        name: {a["code"] for a in client.post("/api/v1/runs", json={"name": name, "config": c}).json()["advice"]}
        for name, c in START_CONFIGS.items()
    }
    assert len({frozenset(c) for c in codes.values()}) >= 3, codes


def test_runs_a_mirror_named_twice_is_stored_once(client: TestClient) -> None:
    run = client.post("/api/v1/runs", json={"name": "m", "mirrors": ["tensorboard", "tensorboard"]}).json()
    assert run["mirrors"] == ["tensorboard"]
    assert client.get(f"/api/v1/runs/{run['id']}").json()["mirrors"] == ["tensorboard"]
