"""The words' small parts, shared by the summary's sentences: numbers as losses are logged, percentages,
p-values, and one sentence in the reader's language."""

from __future__ import annotations

from typing import Any

from losswatch.monitor.vocabulary import SHARE_RESIDUE

LANGS = ("en", "zh")

MINUS = "\u2212"


def num(value: float | None) -> str:
    """4 significant digits, as losses are usually logged."""
    if value is None:
        return "?"
    return f"{value:.4g}".replace("-", MINUS)


def pct(fraction: float | None, signed: bool = True) -> str:
    if fraction is None:
        return "?"
    p = 100.0 * fraction if abs(fraction) >= SHARE_RESIDUE else 0.0
    body = f"{abs(p):.0f}" if abs(p) >= 10 else f"{abs(p):.1f}" if abs(p) >= 1 else f"{abs(p):.2g}"
    sign = (MINUS if p < 0 else "+") if signed and p != 0 else ""
    return f"{sign}{body}%"


def pval(p: float | None) -> str:
    if p is None:
        return "p=?"
    return "p<0.001" if p < 0.001 else f"p={p:.2g}"


def sides(up: bool) -> dict[str, str]:
    """Where a worse and a better value lie, for a metric where higher (`up`) or lower is better, in both
    languages: the `say` fields {worse}, {worse_zh}, {better}, {better_zh}."""
    return {
        "worse": "below" if up else "above",
        "worse_zh": "低于" if up else "高于",
        "better": "above" if up else "below",
        "better_zh": "高于" if up else "低于",
    }


def join(sentences: list[str], lang: str) -> str:
    return ("" if lang == "zh" else " ").join(s for s in sentences if s)


def say(en: str, zh: str, lang: str, **f: Any) -> str:
    return (zh if lang == "zh" else en).format(**f)
