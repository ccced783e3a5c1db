"""What a browser does with the service: another origin's page cannot stop a run or post metrics (CSRF),
the pages carry the headers that keep them out of frames, and with `--auth required` the dashboard
downloads with its token and a dismissed token prompt stays dismissed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import pytest
from playwright.sync_api import Browser, Dialog

from losswatch.monitor.db import make_engine
from losswatch.monitor.store.tokens import create_token
from tests.api.dashboard.conftest import create_run, points_for, post
from tests.conftest import LiveServer, free_port


class Attacker:
    """A web page on another loopback port: same site as the service, another origin."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                body = pages.get(self.path, "").encode()
                self.send_response(200 if body else 404)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def attacker() -> Iterator[Attacker]:
    a = Attacker()
    yield a
    a.close()


def test_browser_cross_origin_form_and_no_cors_fetch_change_nothing(live_server, browser: Browser, attacker) -> None:
    rid = create_run(live_server.url, "csrf-target")
    post(live_server.url, rid, points_for(np.arange(1, 201)))
    api = f"{live_server.url}/api/v1/runs/{rid}"
    attacker.pages["/fetch"] = f"""<script>
      fetch("{api}/metrics", {{method: "POST", mode: "no-cors", headers: {{"Content-Type": "text/plain"}},
        body: JSON.stringify({{points: [{{key: "eval_loss", step: 999, value: "NaN"}}]}})}})
        .finally(() => {{ document.title = "sent"; }});
    </script>"""
    attacker.pages["/form"] = f"""<form id=f method=POST action="{api}/stop"></form>
      <script>document.getElementById("f").submit();</script>"""
    attacker.pages["/form-json"] = f"""<form id=f method=POST action="{api}/metrics" enctype="text/plain">
      <input name='{{"points":[{{"key":"eval_loss","step":998,"value":"NaN"}}],"x":"' value='"}}'></form>
      <script>document.getElementById("f").submit();</script>"""
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(attacker.url + "/fetch")
        page.wait_for_function("() => document.title === 'sent'")
        for form in ("/form", "/form-json"):
            with page.expect_navigation(url=lambda u: u.startswith(api)) as nav:
                page.goto(attacker.url + form)
            answer = nav.value
            assert answer is not None and answer.status in (403, 415), form
    finally:
        context.close()
    decision = httpx.get(f"{api}/decision").json()
    assert decision["should_stop"] is False and decision["reason"] == "none"
    keys = {k["key"]: k for k in httpx.get(f"{api}/metrics").json()["keys"]}
    assert keys["eval_loss"]["last_step"] < 998 and keys["eval_loss"]["nonfinite"] == 0


def test_browser_pages_carry_security_headers_and_cannot_be_framed(live_server, browser: Browser, attacker) -> None:
    rid = create_run(live_server.url, "framed")
    context = browser.new_context()
    page = context.new_page()
    try:
        for path in ("/", f"/runs/{rid}", "/static/js/common.js", "/api/v1/runs"):
            r = page.goto(live_server.url + path)
            assert r is not None and r.status == 200
            h = r.headers
            assert "frame-ancestors 'none'" in h["content-security-policy"], path
            assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff", path
            assert h["referrer-policy"] == "no-referrer", path
        attacker.pages["/frame"] = f'<iframe id=f src="{live_server.url}/runs/{rid}"></iframe>'
        page.goto(attacker.url + "/frame")
        page.wait_for_timeout(1000)  # give the frame its chance to load (it must not)
        framed = [f for f in page.frames if f.url.startswith(live_server.url)]
        assert not framed or all(f.evaluate("document.getElementById('stop')") is None for f in framed)
    finally:
        context.close()


@pytest.fixture(scope="module")
def secured_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    data: Path = tmp_path_factory.mktemp("secured") / "server-data"
    server = LiveServer(data, args=["--auth", "required"]).start()
    engine = make_engine(f"sqlite:///{data / 'losswatch.db'}")
    token = create_token(engine, project="dash", scopes=["read", "write"])[1]
    engine.dispose()
    yield server, token
    server.stop()


def test_browser_auth_required_downloads_carry_the_token(secured_server, browser: Browser) -> None:
    server, token = secured_server
    headers = {"Authorization": f"Bearer {token}"}
    body = {"name": "download-with-token", "project": "dash"}
    rid = httpx.post(f"{server.url}/api/v1/runs", json=body, headers=headers).json()["id"]
    pts = points_for(np.arange(1, 31))
    httpx.post(f"{server.url}/api/v1/runs/{rid}/metrics", json={"points": pts}, headers=headers).raise_for_status()
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    asked: list[str] = []

    def answer(d: Dialog) -> None:
        asked.append(d.message)
        d.accept(token)

    page.on("dialog", answer)
    try:
        page.goto(f"{server.url}/runs/{rid}")
        page.wait_for_function("() => document.body.innerText.includes('download-with-token')")
        for fmt, head in (("csv", "key,step,value,time"), ("json", '{"run": ')):
            with page.expect_download() as dl:
                page.click(f"#{fmt}")
            saved = Path(dl.value.path())
            assert saved.read_text().startswith(head), fmt
            assert dl.value.suggested_filename == f"losswatch-{rid}.{fmt}"
        assert len(asked) == 1  # asked once for the tab, then kept
    finally:
        context.close()


def test_browser_dismissed_token_prompt_stays_dismissed(secured_server, browser: Browser) -> None:
    server, token = secured_server
    headers = {"Authorization": f"Bearer {token}"}
    rid = httpx.post(f"{server.url}/api/v1/runs", json={"name": "nag", "project": "dash"}, headers=headers).json()["id"]
    context = browser.new_context()
    page = context.new_page()
    asked: list[str] = []

    def dismiss(d: Dialog) -> None:
        asked.append(d.message)
        d.dismiss()

    page.on("dialog", dismiss)
    try:
        page.goto(f"{server.url}/runs/{rid}")
        # Several of the page's polls go by (each one 401) without a second prompt.
        api_calls = "performance.getEntriesByType('resource').filter(e => e.name.includes('/api/')).length"
        page.wait_for_function(f"() => {api_calls} >= 4", timeout=60_000)
        polls = page.evaluate(api_calls)
        assert polls >= 4 and len(asked) == 1, (polls, asked)
    finally:
        context.close()
