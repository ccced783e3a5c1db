from __future__ import annotations

import re

import numpy as np
import pytest

from losswatch.monitor.diagnostics import diagnose

from .conftest import Loader

CJK = re.compile(r"[\u4e00-\u9fff]")
PAIRS = [
    ("03", "eval_loss", "loss"),
    ("05", "loss", None),
    ("06", "loss", None),
    ("08", "loss", None),
    ("10", "eval_loss", "loss"),
    ("10", "loss", "eval_loss"),
    ("12", "eval_loss", "loss"),
    ("14", "eval_loss", "loss"),
    ("17", "loss", "eval_loss"),
    ("20", "loss", None),
]


def _sentences(text: str, lang: str) -> int:
    if lang == "zh":
        return text.count("。")
    return len(re.findall(r"[.!?](?=\s|$)", text.replace("e.g.", "eg")))


@pytest.mark.parametrize(("prefix", "key", "companion"), [pytest.param(*p, id=f"{p[0]}_{p[1]}") for p in PAIRS])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_summary_is_a_short_paragraph_with_numbers(
    curve: Loader, prefix: str, key: str, companion: str | None, lang: str
) -> None:
    steps, values = curve(prefix, key)
    result = diagnose(steps, values, key=key, companion=curve(prefix, companion) if companion else None, lang=lang)
    text = result["summary"]
    assert 2 <= _sentences(text, lang) <= 5, text
    assert str(int(steps[-1])) in text  # the last step
    assert f"{values[0]:.4g}" in text  # where the curve started
    assert bool(CJK.search(text)) == (lang == "zh")


def test_summary_reads_curve_08_like_a_person(curve: Loader) -> None:
    text = diagnose(*curve("08", "loss"), key="loss")["summary"]
    assert "fell from 2.348 to 1.971 (\u221216%)" in text
    assert "levelled off" in text


def test_summary_on_curve_10_names_the_best_checkpoint_in_both_languages(curve: Loader) -> None:
    for lang, word in (("en", "overfitting"), ("zh", "过拟合")):
        text = diagnose(*curve("10", "eval_loss"), key="eval_loss", companion=curve("10", "loss"), lang=lang)["summary"]
        assert word in text and "4500" in text and "1.552" in text and "1.578" in text


def test_summary_of_too_few_points_says_it_is_too_early() -> None:
    en = diagnose([1, 2, 3], [2.0, 1.9, 1.8], key="loss")["summary"]
    zh = diagnose([1, 2, 3], [2.0, 1.9, 1.8], key="loss", lang="zh")["summary"]
    assert "too early" in en and "太早" in zh and "3" in zh


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="lang"):
        diagnose([1, 2, 3, 4, 5], [1.0] * 5, key="loss", lang="fr")


def _readme_rise() -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """The README's plain loop: val_loss falls, then rises six evaluations in a row (1.068 -> 1.183) while
    the training loss keeps falling, logged only every other evaluation."""
    ev = np.array([1.6, 1.35, 1.2, 1.1, 1.068, 1.075, 1.09, 1.11, 1.13, 1.16, 1.183])
    steps = np.arange(1, ev.size + 1, dtype=np.int64) * 100
    train_steps = steps[::2]
    train = np.linspace(1.5, 0.2, train_steps.size)
    return steps, ev, (train_steps, train)


ONE_READING = [
    # id, lang, words that must be there, words that must not
    # The forecast to the planned end is stated too; the course of a curve that has turned ends above its best.
    ("rise-en", "en", ["overfitting", "step 500", "to step 2000 stays above"], ["levelled off", "plateau", "diverged"]),
    ("rise-zh", "zh", ["过拟合", "第 500 步", "到第 2000 步的预测走势一直高于"], ["走平", "发散"]),
]


@pytest.mark.parametrize(("lang", "present", "absent"), [c[1:] for c in ONE_READING], ids=[c[0] for c in ONE_READING])
def test_a_rising_validation_curve_reads_as_overfitting_never_a_plateau(
    lang: str, present: list[str], absent: list[str]
) -> None:
    steps, ev, companion = _readme_rise()
    result = diagnose(steps, ev, key="val_loss", companion=companion, config={"max_steps": 2000}, lang=lang)
    assert result["state"] == "overfitting" and result["overfitting"]["detected"], result["summary"]
    assert result["trend"]["best_step"] == 500 and result["overfitting"]["best_step"] == 500
    for word in present:
        assert word in result["summary"], (word, result["summary"])
    for word in absent:
        assert word not in result["summary"], (word, result["summary"])
    assert result["forecast"] is not None and result["forecast"]["horizon"] == 2000


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_forecast_sentence_states_the_gain_in_numbers(lang: str) -> None:
    steps = np.arange(1, 21, dtype=np.int64) * 100
    ev = 1.0 + 2.0 * (steps / 100.0) ** -0.5
    result = diagnose(steps, ev, key="eval_loss", config={"max_steps": 6000}, lang=lang)
    g = result["forecast"]["gain"]
    assert g["low"] <= g["expected"] <= g["high"] and g["expected"] > 0.01
    words = "Continuing to step 6000 is expected to lower eval_loss by" if lang == "en" else "继续训练到第 6000 步"
    assert words in result["summary"], result["summary"]


ENDED = [
    # id, lang, words that must be there, words that must not
    ("overfit-en", "en", ["The run is over: keep its checkpoint from step 500"], ["Stop now", "Continuing to step"]),
    ("overfit-zh", "zh", ["运行已经结束：请保留第 500 步的检查点"], ["建议现在停止", "继续训练到第"]),
]


@pytest.mark.parametrize(("lang", "present", "absent"), [c[1:] for c in ENDED], ids=[c[0] for c in ENDED])
def test_summary_of_an_ended_run_looks_back_instead_of_advising(
    lang: str, present: list[str], absent: list[str]
) -> None:
    steps, ev, companion = _readme_rise()
    result = diagnose(steps, ev, key="val_loss", companion=companion, config={"max_steps": 2000}, lang=lang, ended=True)
    assert result["state"] == "overfitting" and result["forecast"] is None
    for word in present:
        assert word in result["summary"], (word, result["summary"])
    for word in absent:
        assert word not in result["summary"], (word, result["summary"])


@pytest.mark.parametrize(
    ("values", "words"),
    [
        pytest.param([3.0, 2.5, 2.1, 1.8, 1.55, 1.35, 1.2, 1.08], "still falling", id="improving"),
        pytest.param([1.0, 1.0, 1.0], "too few points", id="too-few"),
    ],
)
def test_summary_of_an_ended_run_never_says_keep_training(values: list[float], words: str) -> None:
    steps = np.arange(1, len(values) + 1, dtype=np.int64) * 10
    text = diagnose(steps, np.asarray(values), key="eval_loss", ended=True)["summary"]
    assert words in text and "Keep training" not in text and "Wait for more points" not in text, text


def _settling(tau: float) -> tuple[np.ndarray, np.ndarray]:
    """A smooth validation loss still falling towards 1.0, on a time scale of `tau` steps."""
    steps = np.arange(1, 21, dtype=np.int64) * 100
    return steps, 1.0 + 0.5 * np.exp(-steps / tau)


LITTLE_LEFT = [
    # id, tau, lang, state, words that must be there, words that must not
    (
        "almost-settled-en",
        200.0,
        "en",
        "plateaued",
        ["it fell", "not worth continuing for", "less than the 0.75%"],
        ["Keep", "not significant"],
    ),
    ("almost-settled-zh", 200.0, "zh", "plateaued", ["下降了", "已不值得继续"], ["继续训练即可"]),
    ("far-to-go-en", 3000.0, "en", "improving", ["Keep training."], ["not worth continuing for"]),
    ("far-to-go-zh", 3000.0, "zh", "improving", ["继续训练即可"], ["已不值得继续"]),
]


@pytest.mark.parametrize(
    ("tau", "lang", "state", "present", "absent"), [c[1:] for c in LITTLE_LEFT], ids=[c[0] for c in LITTLE_LEFT]
)
def test_a_curve_still_falling_with_little_left_does_not_say_keep_training(
    tau: float, lang: str, state: str, present: list[str], absent: list[str]
) -> None:
    # A fall can be significant (a smooth curve) and still worth next to nothing: where the forecast's optimistic
    # gain is below what the default stop rule asks of continuing, that rule stops the run as levelling off, and
    # the reading calls it a plateau in the rule's numbers, not "improving ... keep training".
    steps, ev = _settling(tau)
    result = diagnose(steps, ev, key="eval_loss", config={"max_steps": 2400}, lang=lang)
    assert result["state"] == state, result["summary"]
    for word in present:
        assert word in result["summary"], (word, result["summary"])
    for word in absent:
        assert word not in result["summary"], (word, result["summary"])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_forecast_pinned_at_zero_by_its_noise_says_so_instead_of_a_100pct_gain(lang: str) -> None:
    # A training loss logged every step at 0.05 with a scatter of 0.03: the luckiest of the thousands of
    # readings ahead could be anything down to 0, which is the floor talking, not a 100% gain.
    steps = np.arange(1, 2001, dtype=np.int64)
    values = np.abs(0.05 + np.random.default_rng(3).normal(0, 0.03, steps.size))
    result = diagnose(steps, values, key="loss", config={"max_steps": 6000}, lang=lang)
    assert result["forecast"]["minimum"]["expected"] == 0.0
    words = "The forecast to step 6000 says little" if lang == "en" else "到第 6000 步的预测在这里说明不了什么"
    assert words in result["summary"] and "100%" not in result["summary"], result["summary"]


@pytest.mark.parametrize(
    ("lang", "said", "unsaid"),
    [("en", "stays above the best 0.6231", "expected to lower"), ("zh", "一直高于目前的最好值 0.6231", "还能再降低")],
    ids=["en", "zh"],
)
def test_a_course_that_ends_above_the_best_is_not_sold_as_a_gain(lang: str, said: str, unsaid: str) -> None:
    # A smooth fall that turned up five evaluations ago: the summary said "Stop now" and, a sentence later,
    # "continuing is expected to lower eval_loss by 13%, to about 0.54" (a lucky reading's gain under a noise
    # that counts the families' misfit), while the drawn course ended at 0.71.
    steps = np.arange(20, 301, 20, dtype=np.int64)
    ev = 1.5 * np.exp(-steps / 80) + 0.5 + np.where(steps > 200, 0.002 * (steps - 200), 0.0)
    train_steps = np.arange(2, 302, 2, dtype=np.int64)
    train = 2 * np.exp(-train_steps / 100) + 0.1
    result = diagnose(steps, ev, key="eval_loss", companion=(train_steps, train), config={"max_steps": 600}, lang=lang)
    assert result["state"] == "overfitting"
    assert result["forecast"]["value"]["expected"] > result["forecast"]["best"]
    assert said in result["summary"] and unsaid not in result["summary"], result["summary"]


@pytest.mark.parametrize(("lang", "said"), [("en", "2 more value(s) were not finite"), ("zh", "另有 2 个值不是有限数")])
def test_non_finite_values_mid_run_are_said_not_silently_dropped(lang: str, said: str) -> None:
    # An evaluation that went +Inf and -Inf mid-run (the decision stopped on it) read "18 points … Keep training",
    # with no word of them.
    steps = np.arange(1, 21, dtype=np.int64) * 100
    ev = 2.0 / np.arange(1, 21) ** 0.3
    ev[8], ev[12] = np.inf, -np.inf
    result = diagnose(steps, ev, key="eval_loss", lang=lang)
    assert said in result["summary"], result["summary"]
