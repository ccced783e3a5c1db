"""Every code a person can meet has words in English and Chinese; the sentences carry the numbers."""

from __future__ import annotations

import math
import re

import pytest
from fastapi.testclient import TestClient

from losswatch.monitor.diagnostics.state import STATES
from losswatch.monitor.labels import LABELS, decision_text, label, lifecycle
from losswatch.monitor.labels import pct as labels_pct
from losswatch.monitor.policy import Policy
from losswatch.monitor.stopping import Stopper, StopState
from losswatch.monitor.vocabulary import SHOWN_STATUSES, Reason

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize(
    ("kind", "codes"),
    [("status", SHOWN_STATUSES), ("reason", [r.value for r in Reason]), ("state", STATES)],
    ids=["statuses", "reasons", "states"],
)
def test_labels_cover_every_code_in_both_languages(kind: str, codes: tuple[str, ...]) -> None:
    assert set(LABELS[kind]["en"]) == set(codes) == set(LABELS[kind]["zh"])
    assert all(CJK.search(label(kind, c, "zh")) for c in codes)


def test_labels_unknown_code_is_shown_as_it_is() -> None:
    assert label("state", "brand_new_state", "zh") == "brand new state"


DECISION = {
    "should_stop": True,
    "reason": "patience_exhausted",
    "message": "eval_loss did not improve by more than 0.001 for 3 evaluations; best 1.5518 at step 4500",
    "step": 6000,
    "best_step": 4500,
    "best_value": 1.55183,
    "monitor": "eval_loss",
}


def test_labels_decision_text_english_is_the_services_message() -> None:
    assert decision_text(DECISION, "en") == DECISION["message"]


def test_labels_decision_text_chinese_carries_the_numbers() -> None:
    text = decision_text(DECISION, "zh")
    assert "eval_loss" in text and "1.552" in text and "第 4500 步" in text and "第 6000 步" in text
    assert not re.search(r"did not|improve|best", text)


def test_labels_decision_text_chinese_names_the_training_loss_its_guard_stopped_on() -> None:
    # The run monitors eval_loss; its training loss went NaN before any evaluation.
    stopper, state = Stopper(Policy()), StopState()
    stopper.observe(state, key="loss", step=1, value=2.0)
    d = stopper.observe(state, key="loss", step=2, value=math.nan).to_dict()
    assert (d["monitor"], d["key"], d["reason"]) == ("eval_loss", "loss", "non_finite")
    text = decision_text(d, "zh")
    assert text.startswith("loss 出现了 NaN") and "eval_loss" not in text and "第 2 步" in text


def test_labels_decision_text_chinese_names_the_monitor_when_it_decided() -> None:
    stopper, state = Stopper(Policy(monitor="eval_loss", check_finite=True)), StopState()
    d = stopper.observe(state, key="eval_loss", step=100, value=math.inf).to_dict()
    assert d["key"] is None and decision_text(d, "zh").startswith("eval_loss 出现了 NaN")


@pytest.mark.parametrize(
    ("status", "lang", "expected"),
    [
        ("finished", "en", "finished at step 160"),
        ("finished", "zh", "已结束，在第 160 步"),
        ("running", "en", "running, at step 160"),
        ("stale", "en", "stale: nothing received for a while (last at step 160)"),
        ("failed", "zh", "失败，在第 160 步"),
    ],
    ids=["finished", "finished-zh", "running", "stale", "failed-zh"],
)
def test_labels_lifecycle_names_the_last_step(status: str, lang: str, expected: str) -> None:
    run = {"status": status, "keys": [{"last_step": 150}, {"last_step": 160}, {"last_step": None}]}
    assert lifecycle(run, lang) == expected


def test_labels_served_with_the_vocabulary(client: TestClient) -> None:
    served = client.get("/api/v1/vocabulary").json()["labels"]
    assert served["status"]["zh"]["finished"] == "已结束"
    assert set(served["reason"]["zh"]) == set(client.get("/api/v1/vocabulary").json()["reasons"])


def test_labels_decision_text_chinese_without_a_value_waits_instead_of_advising() -> None:
    # A run whose eval_loss has not come (or never will: no evaluations): the English message says it waits.
    d = Stopper(Policy()).observe(StopState(), key="loss", step=1, value=2.0).to_dict()
    assert d["reason"] == "none" and d["best_value"] is None, d
    text = decision_text(d, "zh")
    assert "等待第一个 eval_loss" in text and "继续训练" not in text, text


def test_labels_decision_text_chinese_for_a_training_loss_monitor_says_it_got_worse() -> None:
    d = {"reason": "patience_exhausted", "monitor": "loss", "best_value": 0.5, "best_step": 10, "should_stop": True}
    text = decision_text(d, "zh")
    assert "loss 自最好值以来一直在变差" in text and "评估" not in text, text
    assert "评估" in decision_text({**d, "monitor": "eval_loss"}, "zh")


def _default_rule(values: list[float], monitor: str = "eval_loss", plan: int = 3000) -> dict:
    from losswatch.monitor.judgement.schedule import Schedule

    stopper, state = Stopper(Policy(monitor=monitor), Schedule.from_config({"max_steps": plan})), StopState()
    for i, value in enumerate(values, start=1):
        d = stopper.check(state, step=i * 100, value=value)
        if d.should_stop:
            break
    return d.to_dict()


RISE = [2.0, 1.5, 1.2, 1.1, *(1.1 + 0.2 * k for k in range(1, 8))]
FALL = [2.0, 1.5, 1.2, 1.1, 1.05, 1.02]
LEVEL = [2.0, 1.5, 1.2, 1.1, 1.09, 1.088, 1.087, 1.087, 1.0869, *[1.0868] * 24]
TURNED = [
    float(1.5 * math.exp(-s / 80) + 0.5 + (0.002 * (s - 200) if s > 200 else 0.0) + 0.02 * (-1) ** (s // 20))
    for s in range(20, 301, 20)
]

ZH_CLAUSES = [
    # id, values, what the Chinese must say (beside the numbers of the English message)
    ("warming", [2.0, 1.5], "需要 3 次评估才能判断"),
    ("overfitting", RISE, "正在过拟合"),
    ("levelling", LEVEL, "正在走平"),
    ("course-worse", TURNED, "预测走势一直高于最好值"),
]


@pytest.mark.parametrize(("values", "said"), [c[1:] for c in ZH_CLAUSES], ids=[c[0] for c in ZH_CLAUSES])
def test_labels_decision_text_chinese_says_what_the_default_rule_says(values: list[float], said: str) -> None:
    # The Chinese text was one sentence per reason ("连续多次评估没有足够的改善" for an overfitting stop,
    # "还在改善或尚不能判断" for every run going on), without the rule's numbers; notifications in Chinese
    # carried the English message.
    d = _default_rule(values)
    text = decision_text(d, "zh")
    assert said in text, text
    numbers = re.findall(r"(?<![\w.])\d+(?:\.\d+)?%?", d["message"])
    missing = [n for n in numbers if n not in text and n not in ("1", "0")]
    assert not missing, (missing, d["message"], text)
    assert not re.search(r"[a-z]{4,}", text.replace("eval_loss", "").replace("min_delta", "")), text


PAST_PLAN = [
    # id, values (every 100 steps), monitor, plan, what the message says, what the Chinese says
    ("between-evaluations", FALL, "eval_loss", 650, "no evaluation is left before", "第 650 步）之前已没有评估"),
    ("on-the-last-evaluation", FALL, "eval_loss", 600, "it is at", "已到计划的最后一步（第 600 步）"),
    ("past-the-plan", FALL, "eval_loss", 500, "it is past", "已超过计划的最后一步（第 500 步）"),
    ("training-loss", FALL, "loss", 650, "no reading is left before", "第 650 步）之前已没有读数"),
    (
        "overfitting-stop",
        [2.0, 1.5, 1.2, 1.0, 0.9, 0.85, 1.0, 1.2],
        "eval_loss",
        850,
        "no evaluation is left before",
        "第 850 步）之前已没有评估",
    ),
]


@pytest.mark.parametrize(
    ("values", "monitor", "plan", "says", "says_zh"), [c[1:] for c in PAST_PLAN], ids=[c[0] for c in PAST_PLAN]
)
def test_labels_decision_text_says_why_it_looks_past_the_plan(
    values: list[float], monitor: str, plan: int, says: str, says_zh: str
) -> None:
    # At a run's last evaluation the rule reads the run as going on, so its forecast runs to twice the step: the
    # message said "continuing to step 1200" on a run planned to end at step 650, without saying why.
    d = _default_rule(values, monitor=monitor, plan=plan)
    horizon = 2 * d["step"]
    assert f"{says} its planned end (step {plan}), so it is read as going on" in d["message"], d["message"]
    assert f"step {horizon}" in d["message"], d["message"]
    text = decision_text(d, "zh")
    assert says_zh in text and f"第 {horizon} 步" in text and "因此按训练仍会继续来判断" in text, text


def test_labels_decision_text_leaves_the_plan_unsaid_while_evaluations_are_left() -> None:
    d = _default_rule(FALL, plan=3000)
    assert "planned end" not in d["message"] and "计划" not in decision_text(d, "zh"), d["message"]


def test_labels_decision_text_chinese_says_a_run_going_wrong_is_not_overfitting() -> None:
    from tests.monitor.test_default_policy import RISING_EVAL, TRAINING_WORDS, _with_training

    rises = next(c[1] for c in TRAINING_WORDS if c[0] == "train-rises")
    text = decision_text(_with_training(rises, RISING_EVAL).to_dict(), "zh")
    assert "训练 loss 也在上升" in text and "这不是过拟合" in text and "正在过拟合" not in text, text


@pytest.mark.parametrize(
    ("fraction", "said"),
    [(6.3e-16, "0%"), (-1e-12, "0%"), (0.0074, "0.74%"), (0.25, "25%")],
    ids=["float-residue", "negative-residue", "small", "large"],
)
def test_labels_pct_states_float_residue_as_zero(fraction: float, said: str) -> None:
    assert labels_pct(fraction) == said
