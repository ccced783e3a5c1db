"""`/docs` and `/redoc` in headless Chromium with every request off the service refused: they work offline."""

from __future__ import annotations

from urllib.parse import urlparse

import httpx
import pytest
from playwright.sync_api import Route

from .conftest import Tab

REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def operations(url: str) -> list[tuple[str, str]]:
    spec = httpx.get(f"{url}/openapi.json", timeout=10).json()
    return [(m.upper(), p) for p, ops in spec["paths"].items() for m in ops]


def offline(tab: Tab, url: str) -> list[str]:
    """Abort every request that leaves the service, as on a cluster without internet; return what was tried."""
    tried: list[str] = []
    here = urlparse(url).netloc

    def gate(route: Route) -> None:
        if urlparse(route.request.url).netloc == here or route.request.url.startswith("data:"):
            route.continue_()
        else:
            tried.append(route.request.url)
            route.abort()

    tab.page.route("**/*", gate)
    return tried


def test_api_docs_swagger_ui_lists_every_operation_offline(live_server, tab: Tab) -> None:
    tried = offline(tab, live_server.url)
    page = tab.page
    page.goto(f"{live_server.url}/docs")
    page.locator(".opblock").first.wait_for(timeout=20_000)
    shown = page.locator(".opblock").evaluate_all(
        "els => els.map(e => [e.querySelector('.opblock-summary-method').textContent,"
        " e.querySelector('.opblock-summary-path').getAttribute('data-path')])"
    )
    assert sorted(map(tuple, shown)) == sorted(operations(live_server.url))
    assert ("POST", "/api/v1/runs/{run_id}/metrics") in map(tuple, shown)
    tab.shot("api-docs-swagger")
    assert tried == [] and tab.problems == []


def test_api_docs_redoc_lists_every_operation_offline(live_server, tab: Tab) -> None:
    tried = offline(tab, live_server.url)
    page = tab.page
    page.goto(f"{live_server.url}/redoc")
    page.locator("[data-section-id^='operation/']").first.wait_for(timeout=30_000)
    sections = page.locator("[data-section-id^='operation/']").count()
    assert sections == len(operations(live_server.url))
    assert page.get_by_text("/api/v1/runs/{run_id}/metrics").count() > 0
    tab.shot("api-docs-redoc")
    # ReDoc's bundle always tries its maker's logo from their CDN, and hides it when that fails (onError):
    # the one outside request an offline machine sees, and harmless.
    assert set(tried) <= {REDOC_LOGO}
    assert [p for p in tab.problems if REDOC_LOGO not in p and "ERR_FAILED" not in p] == []


@pytest.mark.parametrize(
    "path",
    ["/static/vendor/swagger-ui/LICENSE", "/static/vendor/redoc/LICENSE", "/static/vendor/swagger-ui/NOTICE"],
    ids=["swagger-licence", "redoc-licence", "swagger-notice"],
)
def test_api_docs_licences_ship_with_the_assets(live_server, path: str) -> None:
    r = httpx.get(live_server.url + path, timeout=10)
    assert r.status_code == 200 and len(r.text) > 40
