"""Input that once stored would break later answers: refused with a 4xx, on SQLite and PostgreSQL alike,
and the run list stays servable."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from losswatch.api.app import create_app
from losswatch.monitor.settings import Settings
from tests.conftest import LOCAL

JSON = {"content-type": "application/json"}


def deep(n: int) -> str:
    return '{"a":' * n + "1" + "}" * n


POISON_CONFIGS = {
    "lone-surrogate": '{"name": "x", "config": {"output_dir": "/data/caf\\udce9"}}',
    "lone-surrogate-key": '{"name": "x", "config": {"\\ud800": 1}}',
    "depth-300": '{"name": "x", "config": ' + deep(300) + "}",
    "huge": json.dumps({"name": "x", "config": {"blob": "x" * 200_000}}),
    "nan": '{"name": "x", "config": {"max_grad_norm": NaN}}',
    "infinity": '{"name": "x", "config": {"lr": -Infinity}}',
    "int-10e400": '{"name": "x", "config": {"max_steps": 1' + "0" * 400 + "}}",
    "nul": '{"name": "x", "config": {"note": "a\\u0000b"}}',
    "nul-in-policy": '{"name": "x", "early_stopping": {"monitor": "eval\\u0000loss"}}',
}


@pytest.mark.parametrize("body", list(POISON_CONFIGS.values()), ids=list(POISON_CONFIGS))
def test_poison_config_is_refused_and_the_list_stays_servable(client: TestClient, body: str) -> None:
    r = client.post("/api/v1/runs", content=body.encode(), headers=JSON)
    assert r.status_code == 422, r.text
    assert len(r.content) < 5000  # the answer names the problem; it does not echo the config back
    listed = client.get("/api/v1/runs")
    assert listed.status_code == 200 and listed.json()["total"] == 0


def test_poison_config_limits_are_settings(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"max_config_bytes": 100, "max_config_depth": 3}))
    with TestClient(app, base_url=LOCAL) as c:
        r = c.post("/api/v1/runs", json={"name": "x", "config": {"a": "y" * 200}})
        assert r.status_code == 422 and "max_config_bytes" in r.text
        r = c.post("/api/v1/runs", json={"name": "x", "config": {"a": {"b": {"c": 1}}}})
        assert r.status_code == 422 and "max_config_depth" in r.text
        assert c.post("/api/v1/runs", json={"name": "x", "config": {"a": {"b": 1}}}).status_code == 201


def test_poison_a_real_config_is_kept(client: TestClient) -> None:
    config = {"learning_rate": 2e-5, "output_dir": "/data/模型/run-1", "eval_steps": 100, "lists": [[1, 2], [3]]}
    r = client.post("/api/v1/runs", json={"name": "x", "config": config})
    assert r.status_code == 201 and r.json()["config"] == config
    assert client.get("/api/v1/runs").json()["runs"][0]["config"] == config


BAD_TEXT = {
    "surrogate-name": ("/api/v1/runs", '{"name": "a\\udc00"}'),
    "nul-name": ("/api/v1/runs", '{"name": "a\\u0000"}'),
    "nul-project": ("/api/v1/runs", '{"name": "a", "project": "p\\u0000"}'),
    "surrogate-id": ("/api/v1/runs", '{"name": "a", "id": "r\\udc00"}'),
    "nul-reason": ("/api/v1/runs/{rid}/stop", '{"reason": "why\\u0000"}'),
    "surrogate-reason": ("/api/v1/runs/{rid}/stop", '{"reason": "why\\udfff"}'),
    "nul-rewind-id": ("/api/v1/runs/{rid}/rewind", '{"step": 1, "rewind_id": "r\\u0000"}'),
    "nul-key": ("/api/v1/runs/{rid}/metrics", '{"points": [{"key": "lo\\u0000ss", "step": 1, "value": 1}]}'),
    # The ingest decoder (msgspec) reads an unpaired surrogate escape as malformed JSON: 400, as documented.
    "surrogate-key": ("/api/v1/runs/{rid}/metrics", '{"points": [{"key": "lo\\ud800ss", "step": 1, "value": 1}]}'),
    "nul-batch-id": ("/api/v1/runs/{rid}/metrics", '{"points": [], "batch_id": "b\\u0000"}'),
    "nul-replay-monitor": ("/api/v1/runs/{rid}/replay", '{"early_stopping": {"monitor": "x\\u0000"}}'),
}


@pytest.mark.parametrize("path,body", list(BAD_TEXT.values()), ids=list(BAD_TEXT))
def test_poison_text_is_4xx_whose_answer_is_valid_json(client: TestClient, path: str, body: str) -> None:
    rid = client.post("/api/v1/runs", json={"name": "ok"}).json()["id"]
    r = client.post(path.format(rid=rid), content=body.encode(), headers=JSON)
    assert r.status_code == (400 if "ud800ss" in body else 422), r.text
    json.loads(r.content.decode("utf-8"))  # strict UTF-8: nothing unencodable echoed back
    assert client.get("/api/v1/runs").status_code == 200
    assert client.get(f"/api/v1/runs/{rid}").status_code == 200
    assert client.get(f"/api/v1/runs/{rid}/decisions").status_code == 200


@pytest.mark.parametrize("name", ["project", "status"])
def test_poison_nul_in_query_is_4xx(client: TestClient, name: str) -> None:
    assert client.get("/api/v1/runs", params={name: "a\x00b"}).status_code == 400


def test_poison_extreme_values_do_not_break_diagnostics(client: TestClient) -> None:
    rid = client.post("/api/v1/runs", json={"name": "x", "config": {"max_steps": 2**62}}).json()["id"]
    big = [1.797e308 if s % 2 else -1.797e308 for s in range(1, 61)]
    pts = [
        {"key": k, "step": s, "value": v} for k in ("loss", "eval_loss") for s, v in zip(range(1, 61), big, strict=True)
    ]
    assert client.post(f"/api/v1/runs/{rid}/metrics", json={"points": pts}).status_code == 200
    for key in ("loss", "eval_loss"):
        r = client.get(f"/api/v1/runs/{rid}/diagnostics", params={"key": key})
        assert r.status_code == 200 and r.json()["key"] == key
    assert client.get(f"/api/v1/runs/{rid}/metrics/eval_loss").status_code == 200
    assert client.post(f"/api/v1/runs/{rid}/replay", json={}).status_code == 200
    assert client.get(f"/api/v1/runs/{rid}/export", params={"format": "json"}).status_code == 200


def test_poison_oversized_chunked_body_is_413(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"max_body_bytes": 1000}))

    def chunks():  # no Content-Length: the limit is found while reading
        yield b'{"name": "x", "config": {"a": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}}'

    with TestClient(app, base_url=LOCAL) as c:
        for path in ("/api/v1/runs", "/api/v1/runs/x/metrics"):
            r = c.post(path, content=chunks(), headers=JSON)
            assert r.status_code == 413 and "max_body_bytes" in r.json()["detail"], path
