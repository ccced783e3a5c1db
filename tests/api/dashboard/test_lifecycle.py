"""A run that has ended looks ended: no live dot, no stop button, "finished at step N"; HF's end-of-training
summaries are facts about the run, not charts."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from .conftest import Tab, create_run, points_for, post

# What the HF Trainer logs once, at the end of training (its run-wide averages and counters).
SUMMARY = {"train_loss": 1.1037, "total_flos": 3.2e15, "train_runtime": 812.5, "train_samples_per_second": 9.81}


def ended_run(url: str, name: str, status: str, last: int = 160) -> str:
    run_id = create_run(url, name, patience=1000)
    post(url, run_id, points_for(np.arange(1, last + 1), eval_every=20))
    post(url, run_id, [{"key": k, "step": last, "value": v} for k, v in SUMMARY.items()])
    httpx.patch(f"{url}/api/v1/runs/{run_id}", json={"status": status}, timeout=10).raise_for_status()
    return run_id


@pytest.mark.parametrize(
    ("status", "shown"),
    [("finished", "finished at step 160"), ("stopped", "stopped at step 160"), ("failed", "failed at step 160")],
    ids=["finished", "stopped", "failed"],
)
def test_lifecycle_ended_run_has_no_live_dot_and_no_stop_button(live_server, tab: Tab, status: str, shown: str) -> None:
    run_id = ended_run(live_server.url, f"ended-{status}", status)
    page = tab.page
    page.goto(f"{live_server.url}/runs/{run_id}")
    page.wait_for_function("() => window.losswatch.polls > 0")
    assert page.locator("#live-text").inner_text() == shown
    assert page.locator("#live").get_attribute("class") == "live"  # no pulsing dot
    assert page.locator("#stop").is_hidden()
    assert page.locator("#run-status").inner_text() == status
    assert page.locator("#run-decision").is_hidden()  # "continue" means nothing once a run has ended
    assert tab.problems == []


def test_lifecycle_running_run_is_live_with_a_stop_button(live_server, tab: Tab) -> None:
    run_id = create_run(live_server.url, "going", patience=1000)
    post(live_server.url, run_id, points_for(np.arange(1, 81)))
    page = tab.page
    page.goto(f"{live_server.url}/runs/{run_id}")
    page.wait_for_function("() => window.losswatch.polls > 0")
    assert page.locator("#live-text").inner_text() == "live, at step 80"
    assert page.locator("#live").get_attribute("class") == "live on"
    assert page.locator("#stop").is_visible() and page.locator("#stop").is_enabled()


@pytest.mark.parametrize("tab", [(1400, 900), (400, 860)], ids=["laptop", "narrow"], indirect=True)
def test_lifecycle_end_of_training_summaries_are_facts_not_charts(live_server, tab: Tab) -> None:
    run_id = ended_run(live_server.url, "hf-summaries", "finished")
    page = tab.page
    page.goto(f"{live_server.url}/runs/{run_id}")
    page.locator("[data-group=loss] canvas").wait_for()
    page.wait_for_function("() => window.losswatch.polls > 0 && window.losswatch.diagAt > 0")
    groups = page.locator("[data-group]").evaluate_all("els => els.map(e => e.dataset.group)")
    assert groups == ["loss", "lr", "grad"]  # no chart per summary
    drawn = page.evaluate("window.losswatch.charts.get('loss').chart.lines.map(l => l.label)")
    assert not any("train_loss" in label for label in drawn)  # the run's average is not a stray dot
    for key, value in SUMMARY.items():
        cell = page.locator(f"#run-facts dd[data-key={key}]")
        assert cell.is_visible()
        assert float(cell.inner_text()) == pytest.approx(value, rel=1e-4)
    assert page.locator("#diag-key option[value=train_loss]").count() == 0
    width = tab.width
    if width >= 1000:
        # 160 steps used to make a page 3,718 px tall; three charts and the side column fit in far less.
        assert page.evaluate("document.documentElement.scrollHeight") < 1500
    else:
        # On a phone the diagnosis comes before the charts.
        diag, chart = page.locator("#diagnosis").bounding_box(), page.locator("[data-group=loss]").bounding_box()
        assert diag is not None and chart is not None and diag["y"] < chart["y"]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    tab.shot(f"run-finished-{width}")
    assert tab.problems == []
