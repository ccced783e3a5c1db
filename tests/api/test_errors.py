"""Bad bodies get the code the OpenAPI documents and a sentence that says where and what is wrong."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize(
    "path",
    ["/api/v1/runs", "/api/v1/runs/{rid}/metrics", "/api/v1/runs/{rid}/rewind", "/api/v1/runs/{rid}/stop"],
    ids=["create-run", "metrics", "rewind", "stop"],
)
@pytest.mark.parametrize("body", [b"not json", b"{bad", b'{"points": ['], ids=["text", "broken-object", "truncated"])
def test_errors_non_json_body_is_400(client: TestClient, path: str, body: bytes) -> None:
    rid = client.post("/api/v1/runs", json={"name": "r"}).json()["id"]
    r = client.post(path.format(rid=rid), content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["detail"].startswith("the body is not valid JSON")
    assert "400" in client.get("/openapi.json").json()["paths"][path.replace("{rid}", "{run_id}")]["post"]["responses"]


@pytest.mark.parametrize(
    ("config", "said"),
    [
        pytest.param("[" * 5000 + "]" * 5000, "the JSON body is nested too deeply to read", id="nested-5000-deep"),
        pytest.param("9" * 5000, "a number in the JSON body is too long to read (Exceeds the limit", id="5000-digits"),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/runs", "/api/v1/runs/{rid}/stop"], ids=["create-run", "stop"])
def test_errors_valid_json_too_deep_or_long_to_read_says_which(
    client: TestClient, path: str, config: str, said: str
) -> None:
    rid = client.post("/api/v1/runs", json={"name": "r"}).json()["id"]
    body = '{"name": "x", "reason": "r", "config": ' + config + "}"
    r = client.post(path.format(rid=rid), content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["detail"].startswith(said), r.text


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("abc", "points[0].value: got the string 'abc'; a value is a number or one of the strings"),
        ("nan", "points[0].value: got the string 'nan'; a value is a number or one of the strings"),
        (True, "points[0].value: got `bool`; a value is a number"),
        ([1], "points[0].value: got `array`; a value is a number"),
    ],
    ids=["word", "lowercase-nan", "bool", "list"],
)
def test_errors_wrong_value_names_the_field_and_what_a_value_is(client: TestClient, value: object, said: str) -> None:
    rid = client.post("/api/v1/runs", json={"name": "r"}).json()["id"]
    r = client.post(f"/api/v1/runs/{rid}/metrics", json={"points": [{"key": "loss", "step": 1, "value": value}]})
    assert r.status_code == 422
    assert said in r.json()["detail"] and "Invalid enum value" not in r.json()["detail"]


@pytest.mark.parametrize("body", [b"null", b"[]", b"42", b'"points"'], ids=["null", "array", "number", "string"])
def test_errors_metrics_body_that_is_not_an_object_says_so(client: TestClient, body: bytes) -> None:
    rid = client.post("/api/v1/runs", json={"name": "r"}).json()["id"]
    r = client.post(f"/api/v1/runs/{rid}/metrics", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail.startswith("the body must be a JSON object: Expected `object`, got `") and detail.endswith("`")


def test_errors_a_bug_is_a_json_500_that_closes_the_connection(settings) -> None:  # type: ignore[no-untyped-def]
    from losswatch.api.app import create_app

    app = create_app(settings)

    @app.get("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as c:
        r = c.get("/api/v1/boom")
    assert r.status_code == 500 and r.headers["connection"] == "close"
    assert r.json()["detail"].startswith("internal error") and "secret" not in r.text  # no internals leak


def test_errors_metrics_body_with_a_field_no_batch_has_names_it(client: TestClient) -> None:
    rid = client.post("/api/v1/runs", json={"name": "r"}).json()["id"]
    r = client.post(f"/api/v1/runs/{rid}/metrics", json={"points": [], "extra": 2})
    assert r.status_code == 422 and r.json()["detail"] == "Object contains unknown field `extra`"
