"""The dashboard in headless Chromium against a real server: list, run page, live updates, stop, compare."""

from __future__ import annotations

import re

import httpx
import numpy as np
import pytest

from .conftest import Tab, canvas_ink, create_run, points_for, post, words

BLUE, ORANGE, RED, GREEN = (37, 99, 235), (234, 88, 12), (220, 38, 38), (22, 163, 74)
LOSS_CANVAS = "[data-group=loss] canvas"


def seeded(url: str, name: str, last_step: int, project: str = "dash", patience: int = 3) -> str:
    run_id = create_run(url, name, project=project, patience=patience)
    post(url, run_id, points_for(np.arange(1, last_step + 1)))
    return run_id


def diagnosis_of(url: str, run_id: str, key: str, lang: str) -> dict | None:
    r = httpx.get(f"{url}/api/v1/runs/{run_id}/diagnostics", params={"key": key, "lang": lang}, timeout=30)
    assert r.status_code in (200, 404), r.text  # a 5xx is a bug; 404 only while the route does not exist
    return r.json() if r.status_code == 200 else None


def test_dashboard_run_list_shows_runs_and_filters(live_server, tab: Tab) -> None:
    a = seeded(live_server.url, "qwen-lora", 300, project="sft")
    b = seeded(live_server.url, "llama-full", 120, project="pretrain")
    page = tab.page
    page.goto(live_server.url + "/")
    row = page.locator(f"tr[data-run='{a}']")
    row.locator("a", has_text="qwen-lora").wait_for()
    # Newest first: b was created after a.
    order = page.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.run)")
    assert order.index(b) < order.index(a)
    page.wait_for_function(f"() => !document.querySelector(\"tr[data-run='{a}'] .loss\").textContent.includes('…')")
    assert re.search(r"train \d+\.\d+", row.locator(".loss").inner_text())
    assert row.locator(".badge.running").count() == 1
    page.wait_for_function(f"() => document.querySelector(\"tr[data-run='{a}'] .decision\").textContent.length > 0")
    diag = diagnosis_of(live_server.url, a, "eval_loss", "en")
    badge = row.locator(".diag .badge")
    badge.wait_for()
    page.wait_for_function(f"() => !document.querySelector(\"tr[data-run='{a}'] .diag\").textContent.includes('…')")
    expected = words(live_server.url, "state", diag["state"], "en") if diag else "unavailable"
    assert badge.inner_text() == expected
    page.select_option("#f-project", "sft")
    page.wait_for_function(f"() => !document.querySelector(\"tr[data-run='{b}']\")")
    assert page.locator("tbody tr").count() == 1
    assert "project=sft" in page.url
    tab.shot("run-list")
    assert tab.problems == []


@pytest.mark.parametrize("tab", [(1400, 900), (400, 860)], ids=["laptop", "narrow"], indirect=True)
def test_dashboard_run_page_draws_charts_diagnosis_and_stop(live_server, tab: Tab) -> None:
    run_id = seeded(live_server.url, "qwen-lora-sft", 1000)
    decision = httpx.get(f"{live_server.url}/api/v1/runs/{run_id}/decision").json()
    assert decision["should_stop"] and decision["best_step"] is not None  # the curve overfits: there is a stop
    page = tab.page
    page.goto(f"{live_server.url}/runs/{run_id}")
    page.locator(LOSS_CANVAS).wait_for()
    page.wait_for_function("() => window.losswatch.polls > 0 && window.losswatch.diagAt > 0")
    groups = page.locator("[data-group]").evaluate_all("els => els.map(e => e.dataset.group)")
    assert groups == ["loss", "lr", "grad"]
    # Lines drawn: train loss (blue), eval loss (orange), the stop marker (red) and best marker (green).
    assert canvas_ink(page, LOSS_CANVAS, BLUE) > 200
    assert canvas_ink(page, LOSS_CANVAS, ORANGE) > 50
    assert canvas_ink(page, LOSS_CANVAS, RED) > 20
    assert canvas_ink(page, LOSS_CANVAS, GREEN) > 20
    for group in ("lr", "grad"):
        assert canvas_ink(page, f"[data-group={group}] canvas", BLUE) > 100
        box = page.locator(f"[data-group={group}] canvas").bounding_box()
        assert box is not None and box["width"] > 200
    reason = words(live_server.url, "reason", decision["reason"], "en")
    assert page.locator("#run-decision").inner_text() == f"stop: {reason}"
    assert page.locator("#stop").is_visible() and page.locator("#stop").is_enabled()
    assert page.locator("#csv").get_attribute("href") == f"/api/v1/runs/{run_id}/export?format=csv"

    diag = diagnosis_of(live_server.url, run_id, "eval_loss", "en")
    summary = page.locator("#diag-summary")
    if diag:
        page.wait_for_function("() => document.querySelector('#diag-summary').textContent.length > 20")
        assert summary.inner_text() == diag["summary"]
        assert page.locator("#diag-state").inner_text() == words(live_server.url, "state", diag["state"], "en")
        assert page.locator("#diag-advice li").count() == max(1, len(diag["advice"]))
    else:
        assert "diagnosis unavailable" in summary.inner_text()
    # Nothing sticks out sideways, on either screen.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert page.viewport_size is not None
    tab.shot(f"run-page-{page.viewport_size['width']}")

    page.click("#lang button[data-lang=zh]")
    zh = diagnosis_of(live_server.url, run_id, "eval_loss", "zh")
    page.wait_for_function("() => document.querySelector('#diag-title').textContent === '诊断'")
    if zh:
        page.wait_for_function(f"() => document.querySelector('#diag-summary').textContent === {zh['summary']!r}")
        assert re.search(r"[\u4e00-\u9fff]", summary.inner_text())
    else:
        page.wait_for_function("() => document.querySelector('#diag-summary').textContent.includes('暂无诊断')")
    assert tab.problems == []


def smoothed(tab: Tab) -> list:
    return tab.page.evaluate("window.losswatch.series.get('loss').points.map(p => p.smoothed)")


def set_range(tab: Tab, value: float) -> None:
    tab.page.evaluate(
        "v => { const s = document.querySelector('#smoothing'); s.value = v;"
        " s.dispatchEvent(new Event('input', {bubbles: true})); }",
        value,
    )


def test_dashboard_smoothing_slider_changes_the_smoothed_line(live_server, tab: Tab) -> None:
    run_id = seeded(live_server.url, "noisy", 400)
    page = tab.page
    page.goto(f"{live_server.url}/runs/{run_id}")
    page.locator(LOSS_CANVAS).wait_for()
    raw = page.evaluate("window.losswatch.series.get('loss').points.map(p => p.value)")
    at_default = smoothed(tab)
    assert at_default != raw  # 0.6 by default
    set_range(tab, 0)
    page.wait_for_function("() => window.losswatch.series.get('loss').opts.smoothing === 0")
    assert smoothed(tab) == raw  # weight 0 is the raw series
    assert page.locator("#smoothing-value").inner_text() == "0.00"
    set_range(tab, 0.95)
    page.wait_for_function("() => window.losswatch.series.get('loss').opts.smoothing === 0.95")
    heavy = smoothed(tab)
    # Heavier smoothing: the line wiggles less than at 0.6.
    assert np.abs(np.diff(heavy)).sum() < np.abs(np.diff(at_default)).sum()
    page.select_option("#smoothing-mode", "llamafactory")
    page.wait_for_function("() => window.losswatch.series.get('loss').opts.mode === 'llamafactory'")
    assert page.locator("#smoothing").is_disabled()
    assert smoothed(tab) not in (heavy, raw)
    page.check("#log-scale")
    page.wait_for_function("() => window.losswatch.charts.get('loss').chart.log === true")
    assert canvas_ink(page, LOSS_CANVAS, BLUE) > 200
    assert tab.problems == []


def test_dashboard_new_points_appear_while_a_run_is_fed(live_server, tab: Tab, feed) -> None:
    run_id = seeded(live_server.url, "live", 100, patience=1000)
    page = tab.page
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "since_step=" in r.url else None)
    page.goto(f"{live_server.url}/runs/{run_id}")
    page.locator(LOSS_CANVAS).wait_for()
    drawn_before = page.evaluate("window.losswatch.charts.get('loss').chart.plot.data[0].length")
    feeder = feed(live_server.url, run_id, 100)
    page.wait_for_function("() => window.losswatch.series.get('loss').lastStep >= 150", timeout=20_000)
    assert feeder.step >= 150
    drawn_after = page.evaluate("window.losswatch.charts.get('loss').chart.plot.data[0].length")
    assert drawn_after > drawn_before
    assert page.evaluate("Math.max(...window.losswatch.charts.get('loss').chart.plot.data[0])") >= 150
    # Only new points travel: the polls ask from the last step they have.
    assert any("metrics/loss?" in u for u in polls)
    assert page.locator("#live").get_attribute("class") == "live on"
    assert tab.problems == []


def test_dashboard_stop_button_stops_a_live_run(live_server, tab: Tab, feed) -> None:
    run_id = seeded(live_server.url, "to-stop", 100, patience=1000)
    feeder = feed(live_server.url, run_id, 100)
    page = tab.page
    dialogs: list[str] = []

    def accept(d) -> None:  # the confirm dialog
        dialogs.append(d.message)
        d.accept()

    page.on("dialog", accept)
    page.goto(f"{live_server.url}/runs/{run_id}")
    page.locator(LOSS_CANVAS).wait_for()
    page.click("#stop")
    assert feeder.done.wait(30), "the fed run never saw a stop"
    assert dialogs and "to-stop" in dialogs[0]
    assert feeder.decisions[-1]["should_stop"] and feeder.decisions[-1]["reason"] == "manual"
    page.wait_for_function("() => document.querySelector('#run-decision').textContent === 'stop: stopped by a person'")
    page.wait_for_function("() => document.querySelector('#run-status').textContent === 'stopped'", timeout=15_000)
    # Once the run has stopped there is nothing to stop: no button, and the "stop requested" note is gone.
    assert page.locator("#stop").is_hidden()
    assert page.locator("#stop-note").inner_text() == ""
    assert page.locator("#live").get_attribute("class") == "live"
    page.wait_for_function("() => document.querySelector('#timeline li.stop') !== null")
    assert "stopped by a person" in page.locator("#timeline li.stop").first.inner_text()
    tab.shot("run-page-stopped")
    assert tab.problems == []


def test_dashboard_stop_button_does_nothing_when_not_confirmed(live_server, tab: Tab) -> None:
    run_id = seeded(live_server.url, "keep-going", 100, patience=1000)
    page = tab.page
    page.on("dialog", lambda d: d.dismiss())
    page.goto(f"{live_server.url}/runs/{run_id}")
    page.locator(LOSS_CANVAS).wait_for()
    page.click("#stop")
    page.wait_for_function("() => window.losswatch.polls > 2")
    assert httpx.get(f"{live_server.url}/api/v1/runs/{run_id}/decision").json()["reason"] == "none"
    assert tab.problems == []


def test_dashboard_compare_overlays_one_key_across_runs(live_server, tab: Tab) -> None:
    a = seeded(live_server.url, "lr-2e-4", 500)
    b = create_run(live_server.url, "lr-1e-4")
    pts = points_for(np.arange(1, 501), seed=3)
    post(live_server.url, b, [dict(p, value=p["value"] * 1.2) for p in pts])
    page = tab.page
    page.goto(f"{live_server.url}/compare?runs={a},{b}")
    page.locator("#chart canvas").wait_for()
    page.wait_for_function("() => window.losswatch.series.size === 2")
    assert page.locator("#key").input_value() == "eval_loss"  # both have it; the validation curve is the one to compare
    assert page.locator("#run-legend li").count() == 2
    assert canvas_ink(page, "#chart canvas", BLUE) > 50
    assert canvas_ink(page, "#chart canvas", ORANGE) > 50
    page.select_option("#key", "loss")
    page.wait_for_function("() => document.querySelector('#chart-title').textContent === 'loss across 2 runs'")
    assert page.evaluate("window.losswatch.key") == "loss"
    assert "key=loss" in page.url
    tab.shot("compare")
    assert tab.problems == []


def test_dashboard_run_page_draws_the_forecast_fan_past_the_last_point(live_server, tab: Tab) -> None:
    run_id = seeded(live_server.url, "forecast-fan", 400)
    forecast = httpx.get(f"{live_server.url}/api/v1/runs/{run_id}/forecast", timeout=30).json()
    assert forecast["last_step"] == 400 and forecast["horizon"] > 400
    page = tab.page
    page.goto(f"{live_server.url}/runs/{run_id}")
    page.locator(LOSS_CANVAS).wait_for()
    page.wait_for_function("() => window.losswatch.forecast !== null && window.losswatch.forecast !== undefined")
    drawn = page.evaluate(
        """() => {
            const c = window.losswatch.charts.get("loss").chart.plot;
            return { labels: c.series.map((s) => s.label), xmax: c.scales.x.max, bands: (c.bands || []).length };
        }"""
    )
    assert {"eval_loss forecast", "eval_loss forecast (80% high)", "eval_loss forecast (80% low)"} <= set(
        drawn["labels"]
    )
    assert drawn["xmax"] >= forecast["horizon"] and drawn["bands"] == 1
    tab.shot("forecast-fan")
    assert tab.problems == []
