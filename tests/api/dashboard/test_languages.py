"""Every word a person reads on the pages, in English and in Chinese (with a CJK font), wide and narrow."""

from __future__ import annotations

import re

import httpx
import numpy as np
import pytest

from .conftest import Tab, create_run, points_for, post, words

CJK = re.compile(r"[\u4e00-\u9fff]")
# English words that would betray an untranslated label in the Chinese page.
ENGLISH = re.compile(
    r"\b(running|finished|stopped|continue|stop|increasing|decreasing|flat|low|moderate|high|yes|no|"
    r"Decisions|Diagnosis|Advice|did not improve|patience|exhausted|overfitting|plateaued|raw|smoothed|auto)\b"
)
SIZES = [(1400, 900), (400, 860)]


def cjk_font_installed() -> bool:
    import subprocess

    return bool(subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout.strip())


@pytest.fixture(scope="module")
def stopped_run(live_server) -> str:
    """A run that overfits and was stopped by its policy (patience 3), and then marked stopped."""
    run_id = create_run(live_server.url, "qwen-lora-zh")
    post(live_server.url, run_id, points_for(np.arange(1, 1001)))
    httpx.patch(f"{live_server.url}/api/v1/runs/{run_id}", json={"status": "stopped"}, timeout=10)
    return run_id


def in_language(tab: Tab, lang: str) -> None:
    tab.page.add_init_script(f"localStorage.setItem('losswatch-lang', '{lang}')")


def test_languages_a_cjk_font_is_installed() -> None:
    # Without one, every Chinese label renders as boxes and the screenshots below show nothing useful.
    assert cjk_font_installed(), "install fonts-noto-cjk (scripts/system-deps.sh does)"


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("tab", SIZES, ids=["laptop", "narrow"], indirect=True)
def test_languages_run_page(live_server, tab: Tab, stopped_run: str, lang: str) -> None:
    url = live_server.url
    in_language(tab, lang)
    page = tab.page
    page.goto(f"{url}/runs/{stopped_run}")
    page.locator("[data-group=loss] canvas").wait_for()
    page.wait_for_function(
        "() => window.losswatch.polls > 0 && window.losswatch.diagAt > 0 && window.losswatch.diagnosis"
    )
    page.wait_for_function("() => document.querySelector('#timeline li.stop') !== null")
    decision = httpx.get(f"{url}/api/v1/runs/{stopped_run}/decision", params={"lang": lang}).json()
    diag = page.evaluate("window.losswatch.diagnosis")
    assert page.locator("#run-status").inner_text() == words(url, "status", "stopped", lang)
    assert page.locator("#diag-state").inner_text() == words(url, "state", diag["state"], lang)
    stop_word = "停止" if lang == "zh" else "stop"
    reason = words(url, "reason", decision["reason"], lang)
    assert page.locator("#run-decision").inner_text() == f"{stop_word}: {reason}"
    assert page.locator("#timeline li.stop .why").first.inner_text() == decision["text"]
    life = "已停止，在第 1000 步" if lang == "zh" else "stopped at step 1000"
    assert page.locator("#live-text").inner_text() == life
    facts = page.locator("#diag-facts dd").all_inner_texts()
    people_read = [
        page.locator("#decisions-title").inner_text(),
        page.locator("#diag-title").inner_text(),
        page.locator("#advice-title").inner_text(),
        page.locator("#run-decision").inner_text(),
        page.locator("#run-status").inner_text(),
        page.locator("#diag-state").inner_text(),
        page.locator("#timeline").inner_text(),
        page.locator("#controls").inner_text(),
        page.locator("[data-group] h3").first.inner_text(),
        page.locator("[data-group=loss] .u-legend").inner_text(),
        *page.locator("#diag-facts dt").all_inner_texts(),
        *facts,
    ]
    if lang == "zh":
        assert page.locator("#decisions-title").inner_text() == "决定记录"
        assert all(CJK.search(text) for text in people_read[:7]), people_read
        # The fact values (direction, level, yes/no) are words too.
        assert CJK.search(facts[0]) and CJK.search(facts[1]) and CJK.search(facts[3]), facts
        leftovers = [m.group(0) for text in people_read for m in ENGLISH.finditer(text)]
        assert leftovers == [], leftovers
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
    else:
        assert page.locator("#decisions-title").inner_text() == "Decisions"
        assert not any(CJK.search(text) for text in people_read)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    tab.shot(f"lang-run-{lang}-{tab.width}")
    assert tab.problems == []


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("tab", SIZES, ids=["laptop", "narrow"], indirect=True)
def test_languages_run_list_shows_status_and_decision_without_sideways_scroll(
    live_server, tab: Tab, stopped_run: str, lang: str
) -> None:
    url = live_server.url
    in_language(tab, lang)
    page = tab.page
    page.goto(f"{url}/")
    row = page.locator(f"tr[data-run='{stopped_run}']")
    row.wait_for()
    page.wait_for_function("() => (s => s.runs.length > 0 && s.filled >= s.runs.length)(window.losswatch)")
    width = tab.width
    status = row.locator(".status .badge")
    decision = row.locator(".decision .badge")
    assert status.inner_text() == words(url, "status", "stopped", lang)
    reason = httpx.get(f"{url}/api/v1/runs/{stopped_run}/decision").json()["reason"]
    assert decision.inner_text() == f"{'停止' if lang == 'zh' else 'stop'}: {words(url, 'reason', reason, lang)}"
    for badge in (status, decision):
        box = badge.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, box
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert page.evaluate("(w => w.scrollWidth <= w.clientWidth + 1)(document.querySelector('.table-wrap'))")
    head = page.locator("#runs thead").inner_text()
    assert bool(CJK.search(head)) is (lang == "zh")
    tab.shot(f"lang-list-{lang}-{width}")
    assert tab.problems == []


def test_languages_switch_on_the_page_changes_everything_at_once(live_server, tab: Tab, stopped_run: str) -> None:
    page = tab.page
    page.goto(f"{live_server.url}/runs/{stopped_run}")
    page.wait_for_function("() => window.losswatch.polls > 0 && window.losswatch.diagnosis")
    assert page.locator("#decisions-title").inner_text() == "Decisions"
    page.click("#lang button[data-lang=zh]")
    page.wait_for_function("() => document.querySelector('#run-status').textContent === '已停止'")
    page.wait_for_function("() => /[\\u4e00-\\u9fff]/.test(document.querySelector('#timeline').textContent)")
    assert page.locator("#decisions-title").inner_text() == "决定记录"
    assert page.locator("[data-t=smoothing]").inner_text() == "平滑"
    page.goto(f"{live_server.url}/")  # the choice is remembered across pages
    page.wait_for_function("() => document.querySelector('#runs thead').textContent.includes('状态')")
    assert tab.problems == []


@pytest.mark.parametrize("tab", SIZES, ids=["laptop", "narrow"], indirect=True)
def test_languages_compare_page_in_chinese(live_server, tab: Tab, stopped_run: str) -> None:
    in_language(tab, "zh")
    page = tab.page
    page.goto(f"{live_server.url}/compare?runs={stopped_run},ghost")
    page.wait_for_function("() => window.losswatch.polls > 0")
    assert page.locator("#chart-title").inner_text() == "1 个运行的 eval_loss"
    assert page.locator("#missing").inner_text() == "找不到运行：ghost"
    assert "已停止" in page.locator("#run-legend").inner_text()
    assert CJK.search(page.locator("#chart .u-legend").inner_text())
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    tab.shot(f"lang-compare-zh-{tab.width}")
    assert [p for p in tab.problems if "404" not in p] == []
