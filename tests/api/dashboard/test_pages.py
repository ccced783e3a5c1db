"""The pages and their static files, served without a browser."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize(
    ("path", "marker"),
    [
        ("/", "/static/js/runs.js"),
        ("/compare?runs=a,b", "/static/js/compare.js"),
    ],
    ids=["list", "compare"],
)
def test_pages_serve_html(client: TestClient, path: str, marker: str) -> None:
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert marker in r.text


def test_pages_run_page_exists_only_for_a_run(client: TestClient) -> None:
    rid = client.post("/api/v1/runs", json={"name": "r"}).json()["id"]
    page = client.get(f"/runs/{rid}")
    assert page.status_code == 200 and "/static/js/run.js" in page.text
    missing = client.get("/runs/not-a-run")
    assert missing.status_code == 404 and "/static/js/missing.js" in missing.text


def test_pages_run_page_follows_a_unique_id_prefix(client: TestClient) -> None:
    for rid in ("pre-one-aaa", "pre-two-bbb"):
        client.post("/api/v1/runs", json={"id": rid, "name": rid})
    r = client.get("/runs/pre-o", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/runs/pre-one-aaa"
    assert client.get("/runs/pre-", follow_redirects=False).status_code == 404  # two runs start so
    # The view is part of the link: a short id keeps it.
    r = client.get("/runs/pre-o?smoothing=0.8&mode=llamafactory&log=1", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/runs/pre-one-aaa?smoothing=0.8&mode=llamafactory&log=1"


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/static/vendor/uPlot.iife.min.js", "javascript"),
        ("/static/vendor/uPlot.min.css", "text/css"),
        ("/static/css/losswatch.css", "text/css"),
        ("/static/vendor/uPlot.LICENSE", ""),
    ],
    ids=["uplot", "uplot-css", "css", "licence"],
)
def test_pages_static_files(client: TestClient, path: str, kind: str) -> None:
    r = client.get(path)
    assert r.status_code == 200 and kind in r.headers["content-type"]
    assert len(r.content) > 500


@pytest.mark.parametrize(
    "path",
    [
        "/static/../routes/pages.py",
        "/static/%2e%2e/routes/pages.py",
        "/static/..%2Fapp.py",
        "/static/nope.js",
        "/static/vendor",
        "/static/" + "a" * 300,
        "/static/" + "a/" * 3000,
    ],
    ids=["dotdot", "encoded-dotdot", "encoded-slash", "missing", "folder", "name-too-long", "path-too-long"],
)
def test_pages_static_never_leaves_its_folder(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert "import" not in r.text
