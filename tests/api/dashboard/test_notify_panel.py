"""The notifications panel and the stale badge in headless Chromium against a real server."""

from __future__ import annotations

import sqlite3
import time

from tests.receiver import Receiver

from .conftest import Tab, create_run


def test_dashboard_notify_panel_adds_tests_and_removes_a_target(live_server, tab: Tab) -> None:
    create_run(live_server.url, "panel-run", project="panel")
    receiver = Receiver().start()
    try:
        page = tab.page
        page.goto(live_server.url + "/?project=panel")
        page.locator("#notify summary").click()
        page.wait_for_function("() => document.querySelectorAll('#n-kind option').length === 6")
        assert page.locator("#n-project").inner_text() == "panel"
        page.select_option("#n-kind", "wecom")
        page.fill("#n-url", receiver.url("/cgi-bin/webhook/send?key=very-secret-key-123"))
        page.locator("#n-events input[value=finished]").check()
        page.locator("#n-add button[type=submit]").click()
        item = page.locator("#n-targets li[data-target]")
        item.wait_for()
        text = item.inner_text()
        assert "wecom" in text and "stop, stale, finished" in text and "very-secret" not in text
        item.locator("button", has_text="Test").click()
        (got,) = receiver.wait(1)
        assert got["body"]["msgtype"] == "markdown" and "key=very-secret-key-123" in got["path"]
        item.locator("button", has_text="Remove").click()
        page.wait_for_function("() => !document.querySelector('#n-targets li[data-target]')")
        tab.shot("notify-panel")
    finally:
        receiver.stop()
    assert tab.problems == []


def test_dashboard_notify_panel_speaks_chinese(live_server, tab: Tab) -> None:
    create_run(live_server.url, "panel-zh", project="panel-zh")
    tab.page.add_init_script("localStorage.setItem('losswatch-lang', 'zh')")
    page = tab.page
    page.goto(live_server.url + "/?project=panel-zh")
    page.locator("#notify summary").click()
    page.wait_for_function("() => document.querySelectorAll('#n-kind option').length === 6")
    assert page.locator("#notify summary").inner_text().startswith("通知：项目")
    assert page.locator("#n-targets li").inner_text() == "还没有通知目标：现在不会通知任何人。"
    assert page.locator("#n-add button[type=submit]").inner_text() == "添加"
    assert page.get_attribute("#n-url", "placeholder") == "Webhook 地址"
    page.wait_for_function("() => document.querySelector('#n-events').innerText.includes('失联')")
    page.fill("#n-url", "http://127.0.0.1:9/hook")
    page.locator("#n-add button[type=submit]").click()
    item = page.locator("#n-targets li[data-target]")
    item.wait_for()
    assert "停止, 失联" in item.inner_text()
    assert item.locator("button[data-action=test]").inner_text() == "测试"
    assert item.locator("button[data-action=remove]").inner_text() == "删除"
    assert page.locator("#n-msg").inner_text() == "已添加目标"
    page.click("#lang button[data-lang=en]")  # the switch redraws the panel at once
    assert "stop, stale" in item.inner_text() and item.locator("button[data-action=test]").inner_text() == "Test"
    assert tab.problems == []


def test_dashboard_silent_run_shows_stale(live_server, tab: Tab) -> None:
    run_id = create_run(live_server.url, "silent-run", project="quiet")
    # Rather than waiting out stale_after: the run's last sign of life, moved an hour back.
    with sqlite3.connect(live_server.data_dir / "losswatch.db") as db:
        db.execute("UPDATE runs SET last_seen_at = ? WHERE id = ?", (time.time() - 3600, run_id))
    page = tab.page
    page.goto(live_server.url + "/?project=quiet&status=stale")
    page.locator(f"tr[data-run='{run_id}'] .badge.stale").wait_for()
    page.goto(f"{live_server.url}/runs/{run_id}")
    page.locator("#run-status.stale").wait_for()
    assert "process may have died" in (page.locator("#run-status").get_attribute("title") or "")
    assert tab.problems == []
