from __future__ import annotations

import re

import httpx
import pytest
from typer.testing import CliRunner

from losswatch.monitor.cli import app
from losswatch.monitor.labels import label

from .conftest import seed

runner = CliRunner()


@pytest.mark.parametrize(
    ("lang", "decision_word", "script"),
    [
        ("en", "Decision: stop at step 900 (patience exhausted, patience_exhausted)", r"[A-Za-z]{4,}"),
        ("zh", "决定: 停止 (耐心耗尽, patience_exhausted) — eval_loss 连续多次评估没有足够的改善", r"[\u4e00-\u9fff]"),
    ],
    ids=["en", "zh"],
)
def test_report_prints_the_diagnosis_in_each_language(seeded, lang: str, decision_word: str, script: str) -> None:
    result = runner.invoke(app, ["report", seeded.run_id, "--lang", lang, "--url", seeded.url])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "qwen-lora" in text and decision_word in text and "patience_exhausted" in text
    for key in ("eval_loss", "loss"):
        diag = httpx.get(
            f"{seeded.url}/api/v1/runs/{seeded.run_id}/diagnostics", params={"key": key, "lang": lang}
        ).json()
        assert f"[{key}] {label('state', diag['state'], lang)}" in text
        assert diag["summary"] in text
        assert re.search(script, diag["summary"])
    assert "learning_rate" not in text.split("\n\n", 1)[1]  # the schedule is not what a person reads


def test_report_key_option_reads_that_metric_only(seeded) -> None:
    result = runner.invoke(app, ["report", seeded.run_id, "--key", "learning_rate", "--url", seeded.url])
    assert result.exit_code == 0, result.output
    assert "[learning_rate]" in result.output and "[eval_loss]" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-run"], "no run has an id starting with 'no-such-run'"),
        (["RUN", "--lang", "fr"], "en or zh"),
        (["RUN", "--key", "nope"], "has no metric 'nope'; it has: eval_loss"),
    ],
    ids=["unknown-run", "unknown-lang", "unknown-key"],
)
def test_report_bad_input_says_what_is_wrong(seeded, args: list[str], message: str) -> None:
    args = [seeded.run_id if a == "RUN" else a for a in args]
    result = runner.invoke(app, ["report", *args, "--url", seeded.url])
    assert result.exit_code != 0
    assert message in result.output


def test_report_unreachable_service_exits_1() -> None:
    result = runner.invoke(app, ["report", "x", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "cannot reach" in result.output


@pytest.mark.parametrize(
    ("status", "lang", "shown"),
    [
        ("running", "en", "status: running, at step 1000"),
        ("finished", "en", "status: finished at step 1000"),
        ("stopped", "en", "status: stopped at step 1000"),
        ("failed", "en", "status: failed at step 1000"),
        ("finished", "zh", "状态：已结束，在第 1000 步"),
        ("stopped", "zh", "状态：已停止，在第 1000 步"),
        ("failed", "zh", "状态：失败，在第 1000 步"),
    ],
    ids=["running", "finished", "stopped", "failed", "finished-zh", "stopped-zh", "failed-zh"],
)
def test_report_shows_where_the_run_is_in_its_life(live_server, status: str, lang: str, shown: str) -> None:
    run = seed(live_server.url, name=f"life-{status}-{lang}")
    if status != "running":
        httpx.patch(f"{run.url}/api/v1/runs/{run.run_id}", json={"status": status}).raise_for_status()
    result = runner.invoke(app, ["report", run.run_id, "--lang", lang, "--url", run.url])
    assert result.exit_code == 0, result.output
    assert shown in result.output.splitlines()[0]


def test_report_zh_has_no_english_status_reason_or_state(seeded) -> None:
    result = runner.invoke(app, ["report", seeded.run_id, "--lang", "zh", "--url", seeded.url])
    head = result.output.split("\n\n")[0]
    for word in ("running", "stop", "continue", "exhausted", "did not improve"):
        assert word not in head.replace("patience_exhausted", "")


ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[31mFAKE: all good\x1b[0m\r\u202e"


def test_report_shows_terminal_escapes_in_names_as_text(live_server) -> None:
    url = live_server.url
    run = httpx.post(f"{url}/api/v1/runs", json={"name": "run" + ESCAPES, "project": "p" + ESCAPES}).json()
    # Keys are refused control characters (a newline, an escape); a right-to-left override is not one.
    key = "loss\u202e"
    points = [{"key": key, "step": s, "value": 1.0 / s} for s in range(1, 30)]
    httpx.post(f"{url}/api/v1/runs/{run['id']}/metrics", json={"points": points}).raise_for_status()
    result = runner.invoke(app, ["report", run["id"], "--key", key, "--url", url])
    assert result.exit_code == 0, result.output
    assert not any(c in result.output for c in "\x1b\x07\r\u202e")
    assert "run\\x1b]0;pwned\\x07" in result.output and "\\u202e" in result.output


@pytest.mark.parametrize(
    ("lang", "verdict", "looking_back"),
    [
        ("en", "Decision: no stop (the run is over)", "The run ended while eval_loss was still falling"),
        ("zh", "决定: 未触发停止（运行已结束）", "运行结束时 eval_loss 仍在下降"),
    ],
    ids=["en", "zh"],
)
def test_report_of_a_finished_run_never_stopped_says_it_is_over(live_server, lang, verdict, looking_back) -> None:
    api = f"{live_server.url}/api/v1"
    policy = {"rule": "best", "patience": 100}
    run_id = httpx.post(f"{api}/runs", json={"name": "done", "early_stopping": policy}).json()["id"]
    points = [{"key": "eval_loss", "step": 10 * i, "value": 3.0 / i} for i in range(1, 13)]
    httpx.post(f"{api}/runs/{run_id}/metrics", json={"points": points}).raise_for_status()
    httpx.patch(f"{api}/runs/{run_id}", json={"status": "finished"}).raise_for_status()
    result = runner.invoke(app, ["report", run_id, "--lang", lang, "--url", live_server.url])
    assert result.exit_code == 0, result.output
    assert verdict in result.output and looking_back in result.output, result.output
    assert "Keep training" not in result.output and "继续训练即可" not in result.output
