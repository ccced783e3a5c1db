"""Tokens: 401 without or with a forged/revoked token, 403 across projects and for read tokens writing."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from losswatch.api.app import create_app
from losswatch.monitor.settings import Settings
from losswatch.monitor.store.tokens import create_token, revoke_token
from tests.conftest import LOCAL, ROOT


@pytest.fixture
def secured(settings: Settings):  # type: ignore[no-untyped-def]
    with TestClient(create_app(settings.model_copy(update={"auth": "required"})), base_url=LOCAL) as c:
        engine: Engine = c.app.state.engine  # type: ignore[attr-defined]
        tokens = {
            "a-rw": create_token(engine, project="a", scopes=["read", "write"])[1],
            "a-r": create_token(engine, project="a", scopes=["read"])[1],
            "b-rw": create_token(engine, project="b", scopes=["read", "write"])[1],
            "a-admin": create_token(engine, project="a", scopes=["admin"])[1],
        }
        yield c, tokens


def h(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_auth_missing_or_forged_token_is_401(secured) -> None:
    c, _ = secured
    assert c.get("/api/v1/runs").status_code == 401
    r = c.get("/api/v1/runs", headers=h("lw_forged"))
    assert r.status_code == 401 and "invalid" in r.json()["detail"]
    assert c.get("/api/v1/runs", headers={"Authorization": "Basic abc"}).status_code == 401


def test_auth_token_reaches_only_its_project_and_foreign_runs_read_as_missing(secured) -> None:
    c, t = secured
    rid = c.post("/api/v1/runs", json={"name": "x", "project": "a"}, headers=h(t["a-rw"])).json()["id"]
    cases: list[tuple[str, str, dict | None]] = [
        ("get", f"/api/v1/runs/{rid}", None),
        ("get", f"/api/v1/runs/{rid}/metrics", None),
        ("post", f"/api/v1/runs/{rid}/metrics", {"points": []}),
        ("post", f"/api/v1/runs/{rid}/stop", {}),
    ]
    for method, path, body in cases:
        r = c.request(method.upper(), path, json=body, headers=h(t["b-rw"]))
        missing = c.request(method.upper(), path.replace(rid, "no-such-run"), json=body, headers=h(t["b-rw"]))
        # Another project's run answers as a missing one does: its existence is not revealed.
        assert r.status_code == missing.status_code == 404, (method, path)
        assert r.json()["detail"].replace(rid, "X") == missing.json()["detail"].replace("no-such-run", "X")
    assert c.post("/api/v1/runs", json={"name": "y", "project": "a"}, headers=h(t["b-rw"])).status_code == 403
    listed = c.get("/api/v1/runs", headers=h(t["b-rw"])).json()["runs"]
    assert listed == []
    assert c.get("/api/v1/runs", params={"project": "a"}, headers=h(t["b-rw"])).status_code == 403


def test_auth_read_token_cannot_write(secured) -> None:
    c, t = secured
    rid = c.post("/api/v1/runs", json={"name": "x", "project": "a"}, headers=h(t["a-rw"])).json()["id"]
    assert c.get(f"/api/v1/runs/{rid}", headers=h(t["a-r"])).status_code == 200
    r = c.post(
        f"/api/v1/runs/{rid}/metrics", json={"points": [{"key": "loss", "step": 1, "value": 1.0}]}, headers=h(t["a-r"])
    )
    assert r.status_code == 403 and "write" in r.json()["detail"]
    assert c.post(f"/api/v1/runs/{rid}/replay", json={}, headers=h(t["a-r"])).status_code == 200
    assert c.post("/api/v1/tokens", json={"scopes": ["read"]}, headers=h(t["a-rw"])).status_code == 403


def test_auth_revoked_token_is_401(secured) -> None:
    c, t = secured
    made = c.post("/api/v1/tokens", json={"scopes": ["read"], "name": "tmp"}, headers=h(t["a-admin"]))
    assert made.status_code == 201 and made.json()["project"] == "a"
    secret, tid = made.json()["token"], made.json()["id"]
    assert c.get("/api/v1/runs", headers=h(secret)).status_code == 200
    revoke_token(c.app.state.engine, token_id=tid)
    assert c.get("/api/v1/runs", headers=h(secret)).status_code == 401


def test_auth_stored_tokens_are_hashed(secured) -> None:
    c, t = secured
    with c.app.state.engine.connect() as conn:
        stored = [r[0] for r in conn.exec_driver_sql("SELECT token_hash FROM api_tokens")]
    assert all(len(s) == 64 and not s.startswith("lw_") for s in stored)
    assert not set(t.values()) & set(stored)


def test_auth_healthz_stays_open(secured) -> None:
    c, _ = secured
    assert c.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--host", "0.0.0.0"], "without authentication"),
        (["--host", "0.0.0.0", "--auth", "required"], "no token exists"),
    ],
    ids=["auth-off-beyond-loopback", "auth-required-without-tokens"],
)
def test_serve_refuses_to_bind_beyond_loopback(tmp_path, args: list[str], needle: str) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "losswatch", "serve", "--port", "1", "--data-dir", str(tmp_path), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert r.returncode == 2 and needle in r.stderr


def test_auth_scope_follows_the_route_not_the_path(secured) -> None:
    c, t = secured
    assert c.post("/api/v1/runs", json={"id": "replay", "name": "x", "project": "a"}, headers=h(t["a-rw"])).status_code
    r = c.patch("/api/v1/runs/replay", json={"status": "finished"}, headers=h(t["a-r"]))
    assert r.status_code == 403 and "write" in r.json()["detail"]
    assert c.get("/api/v1/runs/replay", headers=h(t["a-r"])).json()["status"] == "running"
    assert c.post("/api/v1/runs/replay/replay", json={}, headers=h(t["a-r"])).status_code == 200


def test_auth_delete_needs_admin_and_leaves_nothing(secured) -> None:
    c, t = secured
    rid = c.post("/api/v1/runs", json={"name": "x", "project": "a"}, headers=h(t["a-rw"])).json()["id"]
    pts = [{"key": k, "step": s, "value": 1.0 / s} for k in ("loss", "eval_loss") for s in range(1, 40)]
    c.post(f"/api/v1/runs/{rid}/metrics", json={"points": pts, "batch_id": "b1"}, headers=h(t["a-rw"]))
    c.post(f"/api/v1/runs/{rid}/stop", json={}, headers=h(t["a-rw"]))
    assert c.delete(f"/api/v1/runs/{rid}", headers=h(t["a-rw"])).status_code == 403
    assert c.delete(f"/api/v1/runs/{rid}", headers=h(t["b-rw"])).status_code == 403  # lacks admin first
    assert c.delete(f"/api/v1/runs/{rid}", headers=h(t["a-admin"])).status_code == 204
    assert c.get(f"/api/v1/runs/{rid}", headers=h(t["a-admin"])).status_code == 404
    assert c.delete(f"/api/v1/runs/{rid}", headers=h(t["a-admin"])).status_code == 404
    with c.app.state.engine.connect() as conn:
        for table in ("metric_points", "metric_summaries", "metric_keys", "decisions", "stop_states", "ingest_batches"):
            assert conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar() == 0, table
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM mirror_cursors").scalar() == 0


def test_auth_run_page_reveals_nothing_without_a_token(secured) -> None:
    c, t = secured
    rid = c.post("/api/v1/runs", json={"name": "x", "project": "a"}, headers=h(t["a-rw"])).json()["id"]
    there, missing = c.get(f"/runs/{rid}"), c.get("/runs/no-such-run")
    assert there.status_code == missing.status_code == 200 and there.text == missing.text
