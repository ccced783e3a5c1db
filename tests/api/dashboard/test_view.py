"""The view a person shares and the pages they reach by mistake: view settings in the URL, a missing run,
unknown ids in a comparison, axis and marker labels that are never cut."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from .conftest import Tab, create_run, points_for, post


def test_view_settings_come_from_and_go_to_the_url(live_server, tab: Tab) -> None:
    run_id = create_run(live_server.url, "shared-view", patience=1000)
    post(live_server.url, run_id, points_for(np.arange(1, 201)))
    page = tab.page
    page.goto(f"{live_server.url}/runs/{run_id}?smoothing=0.85&mode=llamafactory&log=1")
    page.wait_for_function("() => window.losswatch.series.get('loss') && window.losswatch.series.get('loss').opts")
    assert page.evaluate("window.losswatch.series.get('loss').opts.mode") == "llamafactory"
    assert page.locator("#smoothing-mode").input_value() == "llamafactory"
    assert page.locator("#log-scale").is_checked()
    assert page.locator("#smoothing").input_value() == "0.85"
    page.wait_for_function("() => window.losswatch.charts.get('loss').chart.log === true")
    page.select_option("#smoothing-mode", "tensorboard")
    page.uncheck("#log-scale")
    page.wait_for_function("() => location.search.includes('mode=tensorboard') && !location.search.includes('log=1')")
    assert "smoothing=0.85" in page.url
    # The same link opens the same view elsewhere, the compare page included.
    page.goto(f"{live_server.url}/compare?runs={run_id}&smoothing=0.3&mode=none")
    page.wait_for_function("() => window.losswatch.polls > 0")
    assert page.locator("#smoothing-mode").input_value() == "none"
    assert tab.problems == []


@pytest.mark.parametrize(("lang", "title"), [("en", "No such run"), ("zh", "找不到这个运行")])
def test_view_missing_run_is_a_page_that_says_so(live_server, tab: Tab, lang: str, title: str) -> None:
    tab.page.add_init_script(f"localStorage.setItem('losswatch-lang', '{lang}')")
    response = tab.page.goto(f"{live_server.url}/runs/nosuch")
    assert response is not None and response.status == 404
    page = tab.page
    assert page.locator("#missing h3").inner_text() == title
    assert "nosuch" in page.locator("#missing-text").inner_text()
    assert page.locator("#missing a[href='/']").is_visible()
    assert "{" not in page.locator("body").inner_text()  # no raw JSON
    # A 404 page load is logged by Chromium as a failed resource; that is the point of this page.
    assert [p for p in tab.problems if "404" not in p] == []


def test_view_compare_names_ids_that_are_no_run(live_server, tab: Tab) -> None:
    a = create_run(live_server.url, "real-one")
    post(live_server.url, a, points_for(np.arange(1, 101)))
    page = tab.page
    page.goto(f"{live_server.url}/compare?runs={a},ghost-run")
    page.wait_for_function("() => window.losswatch.polls > 0")
    banner = page.locator("#missing")
    assert banner.is_visible() and "ghost-run" in banner.inner_text() and "no such run" in banner.inner_text()
    assert page.locator("#chart-card").is_visible()
    page.goto(f"{live_server.url}/compare?runs=ghost-a,ghost-b")
    page.wait_for_function("() => window.losswatch.polls > 0")
    assert "None of these runs exist: ghost-a, ghost-b" in page.locator("#missing").inner_text()
    assert page.locator("#chart-card").is_hidden()  # no empty chart without a word
    assert [p for p in tab.problems if "404" not in p] == []


@pytest.mark.parametrize("tab", [(1400, 900), (400, 860)], ids=["laptop", "narrow"], indirect=True)
def test_view_axis_and_marker_labels_stay_inside_the_chart(live_server, tab: Tab) -> None:
    url = live_server.url
    # Tiny and huge values (the labels that were clipped: ".00198", "00e+10"), and a stop at step 2.
    run_id = httpx.post(
        f"{url}/api/v1/runs", json={"name": "edges", "early_stopping": {"monitor": "loss", "patience": 1000}}
    ).json()["id"]
    steps = np.arange(1, 61)
    pts = [{"key": "loss", "step": int(s), "value": float(0.00198 - 1e-5 * s)} for s in steps]
    pts += [{"key": "total_tokens", "step": int(s), "value": float(3.1e10 * s)} for s in steps]
    post(url, run_id, pts[:1] + [{"key": "loss", "step": 2, "value": "NaN"}])
    post(url, run_id, pts[2:])
    decision = httpx.get(f"{url}/api/v1/runs/{run_id}/decision").json()
    assert decision["should_stop"] and decision["step"] == 2 and decision["reason"] == "non_finite"
    page = tab.page
    page.goto(f"{url}/runs/{run_id}")
    page.locator("[data-group=loss] canvas").wait_for()
    page.wait_for_function("() => window.losswatch.polls > 1")
    for group in ("loss", "other:total_tokens"):
        fits = page.evaluate(
            """g => {
                const u = window.losswatch.charts.get(g).chart.plot;
                const ax = u.axes[1];
                u.ctx.font = ax.font[0];
                const widest = Math.max(...ax._values.map(v => u.ctx.measureText(v).width)) / devicePixelRatio;
                return { widest, size: ax._size, labels: ax._values };
            }""",
            group,
        )
        assert fits["widest"] + 8 <= fits["size"], fits
    boxes = page.evaluate("window.losswatch.charts.get('loss').chart.plot.markerBoxes")
    assert boxes, "no marker drawn"
    for b in boxes:
        assert b["left"] <= b["x0"] and b["x1"] <= b["right"], b  # inside the plot, not cut at an edge
        assert not (b["x0"] < b["line"] < b["x1"]), b  # the label does not sit on its own line
    stop = next(b for b in boxes if b["text"].startswith("stop"))
    assert stop["text"] in ("stop (non-finite value) @ 2", "stop @ 2")
    tab.shot(f"edges-{tab.width}")
    assert tab.problems == []


def test_view_diagnosis_follows_the_monitor_and_the_best_after_a_stop_is_named(live_server, tab: Tab) -> None:
    # The diagnosis panel stayed on `loss` (picked before the first evaluation) while eval_loss overfitted;
    # and a run that went on past its stop showed the stop's best as "best" beside a better one later.
    url = live_server.url
    policy = {"compat": "hf", "patience": 1}
    run_id = httpx.post(f"{url}/api/v1/runs", json={"name": "after", "early_stopping": policy}).json()["id"]
    post(url, run_id, [{"key": "loss", "step": s, "value": 3.0 - s / 1000} for s in range(1, 100)])
    page = tab.page
    page.goto(f"{url}/runs/{run_id}")
    page.wait_for_function("() => window.losswatch.polls > 1")
    assert page.locator("#diag-key").input_value() == "loss"
    evals = {100: 1.0, 200: 0.9, 300: 0.95, 400: 0.97, 500: 0.8}
    post(url, run_id, [{"key": "eval_loss", "step": s, "value": v} for s, v in evals.items()])
    decision = httpx.get(f"{url}/api/v1/runs/{run_id}/decision").json()
    assert decision["should_stop"] and decision["best_step"] == 200
    page.wait_for_function("() => document.getElementById('diag-key').value === 'eval_loss'", timeout=30_000)
    page.wait_for_function("() => (window.losswatch.charts.get('loss').chart.plot.markerBoxes || []).length >= 3")
    texts = [b["text"] for b in page.evaluate("window.losswatch.charts.get('loss').chart.plot.markerBoxes")]
    assert any(t.startswith("best at the stop") and t.endswith("@ 200") for t in texts), texts
    assert any(t.startswith("best ") and not t.startswith("best at") and t.endswith("@ 500") for t in texts), texts
    assert tab.problems == []


@pytest.mark.parametrize("tab", [(390, 844)], ids=["phone"], indirect=True)
def test_view_a_name_with_a_bidi_override_and_a_long_key_keep_the_page_whole(live_server, tab: Tab) -> None:
    # A right-to-left override in a run name reversed the page's text after it ("run gninnur · tluafed"), and
    # a 190-character key widened a phone's page to twice the screen.
    url = live_server.url
    run_id = httpx.post(f"{url}/api/v1/runs", json={"name": "sft\u202egninnur"}).json()["id"]
    long_key = "eval_" + "x" * 185
    post(url, run_id, [{"key": k, "step": s, "value": 1.0 / s} for s in range(1, 30) for k in ("loss", long_key)])
    page = tab.page
    page.goto(f"{url}/runs/{run_id}")
    page.wait_for_function("() => window.losswatch.polls > 1")
    body = page.locator("body").inner_text()
    assert "\u202e" not in body and "sft\\u202egninnur" in body
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    assert tab.problems == []


def test_view_timeline_shows_the_decision_as_it_reads_now(live_server, tab: Tab) -> None:
    # The history keeps one row per change of decision: its newest "continue" row kept the words of the first
    # evaluation ("best 1 at step 100") while the chart's best marker said 0.9 at step 200.
    url = live_server.url
    policy = {"compat": "hf", "patience": 5}
    run_id = httpx.post(f"{url}/api/v1/runs", json={"name": "timeline", "early_stopping": policy}).json()["id"]
    post(url, run_id, [{"key": "eval_loss", "step": 100, "value": 1.0}])
    page = tab.page
    page.goto(f"{url}/runs/{run_id}")
    page.locator("#timeline li .why").first.wait_for()
    assert "1 at step 100" in page.locator("#timeline li .why").first.inner_text()
    post(
        url, run_id, [{"key": "eval_loss", "step": 200, "value": 0.9}, {"key": "eval_loss", "step": 300, "value": 0.95}]
    )
    page.wait_for_function(
        "() => document.querySelector('#timeline li .why').textContent.includes('0.9 at step 200')", timeout=30_000
    )
    assert page.locator("#timeline li").count() == 1 and tab.problems == []
