"""The columnar batch on the client side: cutting a batch in two for a service that asks for smaller ones."""

from __future__ import annotations

from typing import Any

import pytest

from losswatch.monitor.columnar import by_key, halve


def _points(body: dict[str, Any]) -> list[tuple[str, int, Any]]:
    out = [(s["key"], st, v) for s in body.get("series", []) for st, v in zip(s["steps"], s["values"], strict=True)]
    return out + [(p["key"], p["step"], p["value"]) for p in body.get("points", [])]


HALVES = [
    # id, body, (steps in the first half, steps in the second)
    (
        "two-keys-by-step",
        {
            "series": [
                {"key": "loss", "steps": [1, 2, 3, 4], "values": [4, 3, 2, 1]},
                {"key": "eval_loss", "steps": [2, 4], "values": [9, 8]},
            ]
        },
        ({1, 2}, {3, 4}),
    ),
    (
        "one-step-many-points-by-position",
        {"series": [{"key": "loss", "steps": [7, 7, 7], "values": [1, 2, 3]}]},
        ({7}, {7}),
    ),
    (
        "rows-by-step",
        {"points": [{"key": "a", "step": 3, "value": 1}, {"key": "a", "step": 1, "value": 2}]},
        ({1}, {3}),
    ),
    (
        "times-travel-with-their-points",
        {"series": [{"key": "loss", "steps": [1, 2], "values": [1.0, "NaN"], "times": [10.0, None]}]},
        ({1}, {2}),
    ),
]


@pytest.mark.parametrize(("body", "steps"), [c[1:] for c in HALVES], ids=[c[0] for c in HALVES])
def test_halve_keeps_every_point_once_earlier_steps_first(body: dict[str, Any], steps: tuple[set, set]) -> None:
    parts = halve(body)
    assert parts is not None
    first, second = parts
    assert {s for _, s, _ in _points(first)} == steps[0] and {s for _, s, _ in _points(second)} == steps[1]
    assert sorted(_points(first) + _points(second), key=repr) == sorted(_points(body), key=repr)
    for part in parts:
        for item in part.get("series", []):
            assert all(len(item[c]) == len(item["steps"]) for c in ("values", "times") if c in item)


def test_halve_keeps_the_order_of_repeated_steps_so_the_last_still_wins() -> None:
    first, second = halve({"series": [{"key": "loss", "steps": [5, 5, 5, 5], "values": [1, 2, 3, 4]}]}) or ({}, {})
    assert first["series"][0]["values"] == [1, 2] and second["series"][0]["values"] == [3, 4]


@pytest.mark.parametrize(
    "body",
    [{"series": [{"key": "loss", "steps": [1], "values": [1.0]}]}, {"points": []}, {}],
    ids=["one-point", "no-points", "empty"],
)
def test_halve_refuses_what_cannot_be_cut(body: dict[str, Any]) -> None:
    assert halve(body) is None


def test_by_key_keeps_every_point_once_grouped_by_key() -> None:
    body: dict[str, Any] = {
        "series": [
            {"key": "loss", "steps": [1, 2], "values": [1.0, 0.9]},
            {"key": "x" * 300, "steps": [2], "values": [0]},
        ],
        "points": [{"key": "eval_loss", "step": 2, "value": 1.5}, {"key": "loss", "step": 3, "value": 0.8}],
    }
    parts = by_key(body)
    assert parts == [
        {"series": [body["series"][0]], "points": [body["points"][1]]},
        {"series": [body["series"][1]]},
        {"points": [body["points"][0]]},
    ]


def test_by_key_leaves_a_batch_of_one_key_alone() -> None:
    assert by_key({"points": [{"key": "loss", "step": s, "value": 1.0} for s in range(3)]}) is None
