from __future__ import annotations

import re

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
