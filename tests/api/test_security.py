"""The edge: Host names served with auth off (DNS rebinding), cross-site writes (CSRF), NUL in URLs,
tokens not minted over HTTP with auth off, the headers that keep pages out of frames."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from losswatch.api.app import create_app
from losswatch.monitor.settings import Settings
from losswatch.monitor.store.tokens import create_token, list_tokens

JSON = {"content-type": "application/json"}


@pytest.fixture
def rid(client: TestClient) -> str:
    return client.post("/api/v1/runs", json={"name": "victim"}).json()["id"]


@pytest.mark.parametrize(
    "host",
    ["rebind.attacker.example", "rebind.attacker.example:8000", "127.0.0.1.nip.io", "localhost.evil", "[::2]:1", "a:b"],
)
def test_security_auth_off_refuses_foreign_host(client: TestClient, host: str) -> None:
    r = client.post("/api/v1/tokens", json={"scopes": ["admin"], "project": "prod"}, headers={"host": host, **JSON})
    assert r.status_code == 421 and "loopback" in r.json()["detail"]
    assert client.get("/api/v1/runs", headers={"host": host}).status_code == 421
    assert client.get("/", headers={"host": host}).status_code == 421


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:8000", "localhost", "LOCALHOST:1", "[::1]", "[::1]:8000"])
def test_security_auth_off_serves_loopback_names(client: TestClient, host: str) -> None:
    assert client.get("/api/v1/runs", headers={"host": host}).status_code == 200


def test_security_allowed_hosts_extend_the_loopback_names(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"allowed_hosts": ["box.lan"]}))
    with TestClient(app, base_url="http://box.lan:8000") as c:
        assert c.get("/api/v1/runs").status_code == 200
        assert c.get("/api/v1/runs", headers={"host": "other.lan"}).status_code == 421


def test_security_auth_required_answers_any_host_with_its_token_rules(settings: Settings) -> None:
    with TestClient(create_app(settings.model_copy(update={"auth": "required"})), base_url="http://lw.example") as c:
        assert c.get("/api/v1/runs").status_code == 401
        secret = create_token(c.app.state.engine, project="default", scopes=["write"])[1]  # type: ignore[attr-defined]
        # Behind a proxy that rewrites Host, the dashboard's own Origin differs: the token is what counts.
        proxied = {"authorization": f"Bearer {secret}", "origin": "https://lw.lab.example"}
        assert c.post("/api/v1/runs", json={"name": "x"}, headers=proxied).status_code == 201
        assert (
            c.post("/api/v1/runs", content=b"name=x", headers={**proxied, "content-type": "text/plain"}).status_code
            == 415
        )


def test_security_tokens_are_not_minted_over_http_with_auth_off(client: TestClient) -> None:
    r = client.post("/api/v1/tokens", json={"scopes": ["admin"], "project": "prod"})
    assert r.status_code == 403 and "losswatch token create" in r.json()["detail"]
    assert list_tokens(client.app.state.engine) == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "path,content,ctype",
    [
        ("stop", b"", "application/x-www-form-urlencoded"),
        ("stop", b"reason=x", "multipart/form-data; boundary=x"),
        ("metrics", b'{"points":[{"key":"eval_loss","step":1,"value":"NaN"}]}', "text/plain"),
        ("metrics", b'{"points":[{"key":"eval_loss","step":1,"value":"NaN"}]}', None),
    ],
    ids=["form-stop", "multipart-stop", "text-plain-metrics", "no-content-type-metrics"],
)
def test_security_writes_take_json_only(client: TestClient, rid: str, path: str, content: bytes, ctype) -> None:
    headers = {"content-type": ctype} if ctype else {}
    r = client.post(f"/api/v1/runs/{rid}/{path}", content=content, headers=headers)
    assert r.status_code == 415 and "application/json" in r.json()["detail"]
    d = client.get(f"/api/v1/runs/{rid}/decision").json()
    assert d["should_stop"] is False and client.get(f"/api/v1/runs/{rid}/metrics").json()["keys"] == []


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://127.0.0.1:9999"},
        {"origin": "http://rebind.attacker.example"},
        {"origin": "null"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
        {"origin": "http://[::1"},
        {"origin": "http://[zz]"},
    ],
    ids=["other-port", "other-site", "null-origin", "cross-site", "same-site-other-port", "unclosed-ipv6", "bad-ipv6"],
)
def test_security_cross_site_writes_are_refused(client: TestClient, rid: str, headers: dict[str, str]) -> None:
    r = client.post(f"/api/v1/runs/{rid}/stop", json={}, headers=headers)
    assert r.status_code == 403
    assert client.get(f"/api/v1/runs/{rid}/decision").json()["should_stop"] is False
    # Reads are not writes: a cross-site GET gets its answer (the browser keeps it from the other page).
    assert client.get(f"/api/v1/runs/{rid}", headers=headers).status_code == 200


def test_security_same_origin_writes_pass(client: TestClient, rid: str) -> None:
    r = client.post(
        f"/api/v1/runs/{rid}/stop",
        json={"reason": "by hand"},
        headers={"origin": "http://127.0.0.1", "sec-fetch-site": "same-origin"},
    )
    assert r.status_code == 200 and r.json()["should_stop"] is True


@pytest.mark.parametrize(
    "path",
    ["/static/%00", "/static/a%00b.js", "/api/v1/runs?project=%00", "/api/v1/runs/a%00b", "/runs/x%00", "/?q=%00"],
)
def test_security_nul_in_url_is_400(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 400 and "NUL" in r.json()["detail"]


@pytest.mark.parametrize("path", ["/", "/api/v1/runs", "/static/js/common.js", "/nowhere", "/api/v1/runs/missing"])
def test_security_headers_on_pages_and_api(client: TestClient, path: str) -> None:
    h = client.get(path).headers
    assert "frame-ancestors 'none'" in h["content-security-policy"]
    assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"


def test_security_headers_on_refusals(client: TestClient) -> None:
    r = client.get("/", headers={"host": "evil.example"})
    assert r.status_code == 421 and r.headers["x-frame-options"] == "DENY"
