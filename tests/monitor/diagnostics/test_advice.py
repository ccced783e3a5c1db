from __future__ import annotations

import re
from typing import Any

import pytest

from losswatch.monitor.diagnostics.advice import advise

CJK = re.compile(r"[\u4e00-\u9fff]")


def _codes(config: dict[str, Any] | None, *, has_eval: bool = True, n: int = 100) -> list[str]:
    return [a["code"] for a in advise(config, key="eval_loss", has_eval=has_eval, n_points=n)]


def _message(code: str, config: dict[str, Any] | None, lang: str = "en", **facts: Any) -> str:
    facts = {"has_eval": True, "n_points": 100, **facts}
    items = advise(config, key="loss", lang=lang, **facts)
    (message,) = [a["message"] for a in items if a["code"] == code]
    return message


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({"eval_strategy": "no"}, id="eval_strategy_no"),
        pytest.param({"evaluation_strategy": "no"}, id="older_evaluation_strategy_no"),
        pytest.param({"eval_strategy": "IntervalStrategy.NO"}, id="enum_repr_no"),
    ],
)
def test_evaluation_switched_off_means_no_early_stopping(config: dict[str, Any]) -> None:
    message = _message("no_validation", config)
    assert "early stopping cannot work" in message and "val_size: 0.1" in message


def test_no_validation_series_is_reported_even_without_config() -> None:
    message = _message("no_validation", None, has_eval=False)
    assert "No validation loss" in message and "eval_strategy: steps" in message
    assert "no_validation" not in _codes(None, has_eval=True)


def test_configured_evaluation_not_yet_reached_is_not_told_off() -> None:
    # At train begin nothing is logged yet; a run set to evaluate every 10 steps is fine.
    assert "no_validation" not in _codes({"eval_strategy": "steps", "eval_steps": 10}, has_eval=False, n=0)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param(
            {"eval_strategy": "steps", "eval_steps": 200, "save_steps": 300, "load_best_model_at_end": True},
            "save_steps: 400",
            id="save_300_eval_200_with_load_best",
        ),
        pytest.param(
            {"eval_strategy": "steps", "eval_steps": 500},
            None,
            id="hf_default_save_500_is_a_multiple_of_500",
        ),
        pytest.param(
            {"eval_strategy": "steps", "eval_steps": 300},
            "save_steps: 600",
            id="hf_default_save_500_with_eval_300",
        ),
        pytest.param(
            {"eval_strategy": "steps", "eval_steps": 0.1, "save_steps": 0.25, "max_steps": 1000},
            "save_steps: 300",
            id="ratios_resolved_with_max_steps",
        ),
        pytest.param(
            {"eval_strategy": "steps", "eval_steps": 200, "save_steps": 400},
            None,
            id="multiple_is_fine",
        ),
        pytest.param(
            {"eval_strategy": "steps", "eval_steps": 10, "save_steps": 25, "losswatch_keep_best": True},
            None,
            id="keep_best_saves_each_best_itself",
        ),
    ],
)
def test_save_steps_must_be_a_multiple_of_eval_steps(config: dict[str, Any], expected: str | None) -> None:
    items = {a["code"]: a["message"] for a in advise(config, key="eval_loss", has_eval=True, n_points=50)}
    if expected is None:
        assert "save_eval_mismatch" not in items
    else:
        assert expected in items["save_eval_mismatch"]


def test_load_best_needs_matching_strategies() -> None:
    config = {"eval_strategy": "steps", "save_strategy": "epoch", "load_best_model_at_end": True}
    assert "save_eval_strategy_mismatch" in _codes(config)


def test_too_few_points_and_sparse_logging() -> None:
    assert "too_few_points" in _codes(None, n=3)
    assert "too_few_points" not in _codes(None, n=5)
    message = _message("sparse_logging", {"max_steps": 100, "logging_steps": 10})
    assert "about 10 points" in message and "logging_steps: 5" in message
    config = {"max_steps": 1000, "eval_strategy": "steps", "eval_steps": 250, "save_steps": 250}
    assert "eval_steps: 100" in _message("sparse_evaluation", config)


@pytest.mark.parametrize(
    ("config", "advised"),
    [
        pytest.param({"max_steps": 100, "logging_steps": 10}, True, id="lower-helps"),
        pytest.param({"max_steps": 15, "logging_steps": 5}, True, id="short-run-lower-still-helps"),
        pytest.param({"max_steps": 15, "logging_steps": 1}, False, id="already-every-step"),
        pytest.param({"max_steps": 8, "logging_steps": 1}, False, id="tiny-run-every-step"),
    ],
)
def test_sparse_logging_is_advised_only_where_lowering_helps(config: dict[str, Any], advised: bool) -> None:
    # "logging_steps 1 ... Use logging_steps: 1 or lower" asked for what the run already does.
    assert ("sparse_logging" in _codes(config)) is advised


@pytest.mark.parametrize(
    ("max_steps", "eval_steps", "advised"),
    [
        pytest.param(1000, 250, True, id="lower-helps"),
        pytest.param(12, 2, True, id="short-run-lower-still-helps"),
        pytest.param(8, 1, False, id="already-every-step"),
    ],
)
def test_sparse_evaluation_is_advised_only_where_lowering_helps(max_steps: int, eval_steps: int, advised: bool) -> None:
    config = {"max_steps": max_steps, "eval_strategy": "steps", "eval_steps": eval_steps, "save_steps": eval_steps}
    assert ("sparse_evaluation" in _codes(config)) is advised


@pytest.mark.parametrize(
    ("config", "effective", "faster"),
    [
        pytest.param(
            {"per_device_train_batch_size": 4, "gradient_accumulation_steps": 8, "world_size": 2},
            "4 per device × 8 accumulation step(s) × 2 process(es) = 64",
            "8 per device × 4 accumulation",
            id="accumulation_even",
        ),
        pytest.param(
            {"per_device_train_batch_size": 2, "gradient_accumulation_steps": 3, "n_gpu": 4},
            "= 24",
            "6 per device × 1 accumulation",
            id="accumulation_odd_with_n_gpu",
        ),
        pytest.param({"per_device_train_batch_size": 16}, "= 16", None, id="no_accumulation"),
    ],
)
def test_effective_batch_size(config: dict[str, Any], effective: str, faster: str | None) -> None:
    message = _message("effective_batch_size", config)
    assert effective in message
    assert (faster in message) if faster else ("faster" not in message)


def test_healthy_config_gives_only_the_batch_size() -> None:
    config = {
        "eval_strategy": "steps",
        "eval_steps": 100,
        "save_steps": 200,
        "logging_steps": 10,
        "max_steps": 3000,
        "per_device_train_batch_size": 8,
        "load_best_model_at_end": True,
        "save_strategy": "steps",
    }
    assert _codes(config) == ["effective_batch_size"]


def test_every_message_exists_in_chinese() -> None:
    config = {
        "eval_strategy": "no",
        "eval_steps": 200,
        "save_steps": 300,
        "max_steps": 100,
        "logging_steps": 10,
        "per_device_train_batch_size": 4,
        "gradient_accumulation_steps": 8,
    }
    en = advise(config, key="loss", has_eval=False, n_points=2, lang="en")
    zh = advise(config, key="loss", has_eval=False, n_points=2, lang="zh")
    assert [a["code"] for a in en] == [a["code"] for a in zh]
    assert len(en) >= 4
    for item in zh:
        assert CJK.search(item["message"]), item
    assert "64" not in zh[-1]["message"] and "32" in zh[-1]["message"]


@pytest.mark.parametrize(
    ("n_points", "has_eval", "codes"),
    [
        (1, False, []),  # step 1 of a loop that will log val_loss: nothing to scold
        (200, False, ["monitor_not_logged"]),  # 200 training points and still no val_loss: say so
        (200, True, []),
    ],
    ids=["first-step", "never-logged", "logged"],
)
def test_advice_named_validation_monitor_is_not_scolded_before_it_is_logged(
    n_points: int, has_eval: bool, codes: list[str]
) -> None:
    items = advise({}, key="loss", has_eval=has_eval, n_points=n_points, monitor="val_loss")
    # "too few points" is about the series itself, not about validation; it is not what is tested here.
    assert [a["code"] for a in items if a["code"] != "too_few_points"] == codes
    assert not any("No validation loss" in a["message"] for a in items)


@pytest.mark.parametrize(("accumulation", "kind"), [(1, "fact"), (4, "advice")], ids=["product-only", "faster-split"])
def test_advice_effective_batch_size_is_a_fact_unless_there_is_a_faster_split(accumulation: int, kind: str) -> None:
    config = {"per_device_train_batch_size": 8, "gradient_accumulation_steps": accumulation}
    items = advise(config, key="eval_loss", has_eval=True, n_points=100)
    (item,) = [a for a in items if a["code"] == "effective_batch_size"]
    assert item["kind"] == kind
    assert all(a["kind"] == "advice" for a in items if a["code"] != "effective_batch_size")
