"""One spelling and one rule: non-finite values and the validation-key rule."""

from __future__ import annotations

import math

import pytest

from losswatch.monitor.vocabulary import (
    NON_FINITE_SPELLINGS,
    Reason,
    as_dict,
    companion_key,
    headline_key,
    is_eval_key,
    point_problem,
    spell,
    unspell,
)


@pytest.mark.parametrize(
    "value,spelled",
    [(1.5, 1.5), (0.0, 0.0), (-2.0, -2.0), (math.inf, "Infinity"), (-math.inf, "-Infinity")],
    ids=["positive", "zero", "negative", "inf", "-inf"],
)
def test_vocabulary_spell_round_trips(value: float, spelled: float | str) -> None:
    assert spell(value) == spelled
    assert unspell(spelled) == value


def test_vocabulary_spell_nan() -> None:
    assert spell(math.nan) == "NaN" and math.isnan(unspell("NaN"))
    assert set(NON_FINITE_SPELLINGS) == {"NaN", "Infinity", "-Infinity"}


def test_vocabulary_unspell_refuses_other_strings_saying_how_to_spell() -> None:
    with pytest.raises(ValueError, match="NaN, Infinity, -Infinity"):
        unspell("nan")


EVAL_KEYS = [
    ("eval_loss", True, "loss"),
    ("val_loss", True, "loss"),
    ("validation_loss", True, "loss"),
    ("eval/loss", True, "loss"),
    ("eval_accuracy", True, "accuracy"),
    ("test_acc", True, "acc"),
    ("loss", False, "eval_loss"),
    ("train_loss", False, "eval_train_loss"),
    ("learning_rate", False, "eval_learning_rate"),
    ("evaluation_time", False, "eval_evaluation_time"),
]


@pytest.mark.parametrize("key,is_eval,companion", EVAL_KEYS, ids=[k[0] for k in EVAL_KEYS])
def test_vocabulary_eval_key_rule(key: str, is_eval: bool, companion: str) -> None:
    assert is_eval_key(key) is is_eval
    assert companion_key(key) == companion


@pytest.mark.parametrize(
    "key,keys,expected",
    [
        ("eval_loss", {"loss", "eval_loss"}, "loss"),
        ("eval_accuracy", {"loss", "eval_accuracy"}, "loss"),
        ("loss", {"loss", "val_loss"}, "val_loss"),
        ("loss", {"loss"}, None),
        ("grad_norm", {"grad_norm", "eval_loss"}, "eval_loss"),
    ],
    ids=["eval-loss", "eval-acc-falls-back-to-loss", "val-prefix", "no-eval", "any-to-eval-loss"],
)
def test_vocabulary_companion_only_names_existing_keys(key: str, keys: set[str], expected: str | None) -> None:
    assert companion_key(key, keys) == expected


@pytest.mark.parametrize(
    "keys,expected",
    [
        ({"loss", "eval_loss", "lr"}, "eval_loss"),
        ({"loss", "lr"}, "loss"),
        ({"my_loss", "acc"}, "my_loss"),
        ({"acc", "f1"}, "acc"),
        (set(), None),
    ],
    ids=["eval", "train", "any-loss", "any-key", "none"],
)
def test_vocabulary_headline_key(keys: set[str], expected: str | None) -> None:
    assert headline_key(keys) == expected


def test_vocabulary_as_dict_lists_every_reason_and_status() -> None:
    v = as_dict()
    assert v["reasons"] == [r.value for r in Reason]
    assert "stale" in v["statuses"] and "running" in v["statuses"]
    assert v["smoothing_modes"] == ["tensorboard", "llamafactory", "none"]


def test_vocabulary_shown_status_is_every_status_and_stale() -> None:
    from typing import get_args

    from losswatch.monitor.vocabulary import SHOWN_STATUSES, ShownStatus

    assert set(get_args(ShownStatus)) == set(SHOWN_STATUSES)


@pytest.mark.parametrize(
    ("key", "step", "problem"),
    [
        pytest.param("loss", 0, None, id="ok"),
        pytest.param("eval_" + "x" * 195, 10, None, id="key-of-200"),
        pytest.param("loss", 10**13, None, id="step-a-service-may-be-set-to-take"),
        pytest.param("loss", 2**53, None, id="step-at-the-wire-limit"),
        pytest.param("x" * 201, 1, "longer than 200", id="key-of-201"),
        pytest.param("  ", 1, "a blank key", id="blank"),
        pytest.param("a\x00b", 1, "NUL", id="nul"),
        pytest.param("loss", -1, "step -1", id="negative-step"),
        pytest.param("loss", 2**53 + 1, "outside", id="beyond-the-wire-limit"),
    ],
)
def test_vocabulary_point_problem_is_what_every_service_refuses(key: str, step: int, problem: str | None) -> None:
    said = point_problem(key, step)
    assert (said is None) if problem is None else (said is not None and problem in said)
