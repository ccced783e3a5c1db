"""The state's two sentences: every state has its own words, in both languages, and they carry its numbers."""

from __future__ import annotations

import re

import numpy as np
import pytest

from losswatch.monitor.diagnostics import diagnose
from losswatch.monitor.diagnostics.readings import reading
from losswatch.monitor.diagnostics.state import STATES
from losswatch.monitor.diagnostics.wording import LANGS

from .test_state import CASES, Case

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_readings_cover_every_state() -> None:
    assert {expected for expected, _ in CASES} == set(STATES)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("expected", "case"), [pytest.param(e, c, id=c.__name__) for e, c in CASES])
def test_readings_say_the_state_in_the_language(expected: str, case: Case, lang: str) -> None:
    steps, values, kwargs = case()
    result = diagnose(steps, values, **kwargs)
    assert result["state"] == expected
    said = reading(result, lang)
    schedule = result["trend"]["schedule"] and expected not in ("insufficient_data", "non_finite")
    # A schedule key gets one sentence (it moves by design, nothing to advise); every other state two.
    assert len(said) == (1 if schedule else 2)
    assert all(said) and all(s in result["summary"] or lang != "en" for s in said)
    for sentence in said:
        assert bool(CJK.search(sentence)) == (lang == "zh"), sentence


@pytest.mark.parametrize(
    ("case", "number"),
    [
        pytest.param("overfitting_on_u_shaped_eval_with_falling_train", "best_step", id="overfitting-names-best-step"),
        pytest.param("insufficient_data_on_four_points", "n_finite", id="insufficient-names-its-count"),
        pytest.param("non_finite_on_trailing_nan", "last_step", id="non-finite-names-the-step"),
    ],
)
def test_readings_carry_the_numbers(case: str, number: str) -> None:
    steps, values, kwargs = dict((c.__name__, c) for _, c in CASES)[case]()
    result = diagnose(steps, values, **kwargs)
    source = result["overfitting"] if number == "best_step" else result["trend"]
    for lang in LANGS:
        assert str(source[number]) in reading(result, lang)[0]


@pytest.mark.parametrize(("lang", "words"), [("en", "not overfitting but training going wrong"), ("zh", "不是过拟合")])
def test_readings_of_validation_rising_with_training_say_what_the_stop_says(lang: str, words: str) -> None:
    # The decision of such a stop says "not overfitting but training going wrong"; the reading says the same,
    # with the best to restart from, and not "the run has diverged ... far beyond the noise" of a level jump.
    steps, values, kwargs = dict((c.__name__, c) for _, c in CASES)[
        "diverging_on_validation_rising_with_its_training_loss"
    ]()
    result = diagnose(steps, values, **kwargs, lang=lang)
    said = reading(result, lang)
    assert words in said[0] and "300" in said[0] and "300" in said[1], said


@pytest.mark.parametrize(
    ("lang", "words", "not_words"), [("en", "has not got worse", "went from"), ("zh", "并没有超出噪声地变差", "降到了")]
)
def test_readings_of_a_training_key_beside_an_overfit_do_not_say_a_flat_loss_fell(
    lang: str, words: str, not_words: str
) -> None:
    # The training loss flat at about 0.7 while validation climbs from its best: overfitting, and the training key's
    # reading says the loss did not get worse, not that it "fell" (降到了) from one 0.7 to another.
    es = np.arange(1, 11, dtype=np.int64) * 100
    ev = np.array([2.0, 1.6, 1.4, 1.3, 1.25, 1.3, 1.35, 1.4, 1.45, 1.5])
    ts = np.arange(1, 101, dtype=np.int64) * 10
    flat = 0.7 + np.random.default_rng(7).normal(0, 0.01, ts.size)
    result = diagnose(ts, flat, key="loss", companion=(es, ev), config={"max_steps": 1200}, lang=lang)
    assert result["overfitting"]["detected"], result["summary"]
    assert words in result["summary"] and not_words not in result["summary"], result["summary"]


@pytest.mark.parametrize(
    "case",
    [
        "overfitting_on_four_evaluations_rising_from_the_first",
        "overfitting_on_four_accuracies_falling_from_the_first",
        "plateaued_on_four_evaluations_that_barely_move",
    ],
)
@pytest.mark.parametrize("lang", LANGS)
def test_readings_of_a_short_run_the_rule_judges_carry_its_numbers(case: str, lang: str) -> None:
    # 3-4 readings read by the stopping rule: the levels are there ("from ? to ?" where they were not).
    steps, values, kwargs = dict((c.__name__, c) for _, c in CASES)[case]()
    summary = diagnose(steps, values, **kwargs, lang=lang)["summary"]
    assert "?" not in summary and "？" not in summary, summary


@pytest.mark.parametrize("lang", LANGS)
def test_readings_of_a_rise_from_a_best_of_zero_state_no_share_of_it(lang: str) -> None:
    steps = np.arange(1, 7, dtype=np.int64) * 100
    result = diagnose(steps, np.array([0.5, 0.2, 0.0, 0.1, 0.2, 0.3]), key="eval_loss", lang=lang)
    assert result["state"] == "overfitting", result["summary"]
    # A share of 0 means nothing: "(0% worse than the best)" was said of a rise from 0 to 0.2.
    assert "worse than the best" not in result["summary"] and "比最好值差" not in result["summary"], result["summary"]


# A slow fall whose best (0.8478, the 16th evaluation) came one evaluation before its latest, evaluated every 500
# steps: the forecast's course to the planned end stays above that best.
BUMP_AFTER_A_SLOW_FALL = np.round(
    0.8
    + 0.3 * np.arange(1, 18) ** -0.6
    + 0.006 * np.array([0, 1, -1, 1, 0, -1, 1, -1, 0, 1, -1, 0, 1, 0, -1, -1.5, 0]),
    4,
)


NEXT_TELLS = ("see whether the next one improves", "看下一次评估是否改善")
NONE_LEFT = (
    "no evaluation is left before the planned end (step {plan}) to tell",
    "第 {plan} 步）之前已没有评估可以判断",
)


@pytest.mark.parametrize(
    ("plan", "bump"),
    [(8610, NONE_LEFT), (8900, NONE_LEFT), (9000, NEXT_TELLS)],
    ids=["plan-8610", "plan-8900", "plan-9000-on-the-next-evaluation"],
)
@pytest.mark.parametrize(("lang", "keep"), [("en", "Keep training."), ("zh", "继续训练即可。")], ids=["en", "zh"])
def test_readings_never_say_keep_training_beside_a_course_short_of_the_best(
    plan: int, bump: tuple[str, str], lang: str, keep: str
) -> None:
    # With a plan less than an evaluation away (8610, 8900) the default rule reads the run as going on and its course
    # gets back to the best, while the outlook, to the plan, says it does not: the summary said "Keep training."
    # beside "continuing is not expected to beat the best". Nor does it ask to wait for an evaluation the plan leaves
    # no room for.
    steps = np.arange(500, 8501, 500)
    result = diagnose(steps, BUMP_AFTER_A_SLOW_FALL, key="eval_loss", config={"max_steps": plan}, lang=lang)
    assert result["state"] == "improving"
    said = bump[LANGS.index(lang)].format(plan=plan)
    assert said in result["summary"] and keep not in result["summary"], result["summary"]
