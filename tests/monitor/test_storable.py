"""What may be stored: text both databases hold, bounded configs, and the trainer side's cleaning."""

from __future__ import annotations

import json
import math

import pytest

from losswatch.monitor.errors import Invalid
from losswatch.monitor.storable import check_config, clean, clean_text, find_bad_text, text_problem


@pytest.mark.parametrize(
    ("text", "problem"),
    [("plain", None), ("模型/运行", None), ("emoji \U0001f600", None), ("a\x00b", "NUL"), ("x\udce9", "surrogate")],
    ids=["ascii", "chinese", "emoji", "nul", "lone-surrogate"],
)
def test_storable_text_problem(text: str, problem: str | None) -> None:
    why = text_problem(text)
    assert (why is None) if problem is None else (problem in (why or ""))


def test_storable_find_bad_text_looks_in_keys_and_nested_values() -> None:
    assert find_bad_text({"a": [{"b": "ok"}], "c": 1}, "config") is None
    assert "config.a[0].b" in (find_bad_text({"a": [{"b": "\x00"}]}, "config") or "")
    assert "a key in config.a" in (find_bad_text({"a": {"\ud800": 1}}, "config") or "")


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"x": math.nan}, "NaN"),
        ({"x": [math.inf]}, "NaN or Infinity"),
        ({"x": 10**30}, "64 bits"),
        ({"x": {"y": {"z": 1}}}, "max_config_depth"),
        ({"x": "y" * 100}, "max_config_bytes"),
        ({"x": "\udc00"}, "surrogate"),
    ],
    ids=["nan", "inf-in-list", "huge-int", "too-deep", "too-big", "surrogate"],
)
def test_storable_check_config_refuses(config: dict, words: str) -> None:
    with pytest.raises(Invalid, match=words):
        check_config(config, max_bytes=80, max_depth=3)


def test_storable_check_config_accepts_plain_json() -> None:
    check_config({"lr": 2e-5, "dir": "/数据", "n": [1, 2], "ok": True, "none": None}, max_bytes=1000, max_depth=3)


@pytest.mark.parametrize(
    ("text", "cleaned"),
    [("/data/caf\udce9", "/data/caf\ufffd"), ("a\x00b", "a\ufffdb"), ("\ud800x", "\ufffdx"), ("fine ✓", "fine ✓")],
    ids=["surrogateescape-byte", "nul", "lone-high-surrogate", "unchanged"],
)
def test_storable_clean_text(text: str, cleaned: str) -> None:
    out = clean_text(text)
    assert "\ufffd" in out if "\ufffd" in cleaned else out == cleaned
    out.encode("utf-8")
    assert "\x00" not in out


def test_storable_clean_makes_any_value_storable() -> None:
    deep: dict = {"leaf": 1}
    for _ in range(50):
        deep = {"a": deep}
    value = {"p": "caf\udce9", "n": math.nan, "i": -math.inf, "big": 10**40, "t": (1, 2), "d": deep, 3: object()}
    out = clean(value, max_depth=10)
    text = json.dumps(out, allow_nan=False, ensure_ascii=False).encode("utf-8")
    check_config(json.loads(text), max_bytes=10**6, max_depth=12)
    assert out["n"] == "NaN" and out["i"] == "-Infinity" and out["big"] == str(10**40) and out["t"] == [1, 2]
