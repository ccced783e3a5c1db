"""The cleaning rules on small hand-made sequences: duplicates, jitter, rewinds, nulls."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest

from losswatch.monitor.importers.base import Record
from losswatch.monitor.importers.clean import clean, log_interval


def lines(*rows: tuple[int, dict]) -> list[Record]:
    """Records numbered 1.. in the order given, as a file's lines would be."""
    return [Record(line, step, values) for line, (step, values) in enumerate(rows, start=1)]


def run(steps, writer: float, key: str = "loss") -> list[tuple[int, dict]]:
    """A writer's lines: the value tells which writer logged it and at which step (writer + step/1000)."""
    return [(s, {key: writer + s / 1000}) for s in steps]


def values(writer: float, steps) -> dict[int, float]:
    return {s: writer + s / 1000 for s in steps}


@dataclass
class Case:
    id: str
    rows: list[tuple[int, dict]]
    expect: dict[str, dict[int, float]]  # key -> step -> value after cleaning
    # (line, from_step, to_step, abandoned, dropped) per rewind
    rewinds: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    duplicates: int = 0
    conflicting: int = 0
    out_of_order: int = 0


def interleave(a, b):
    return [row for pair in zip(a, b, strict=True) for row in pair]


CASES = [
    Case("in-order", run(range(10, 60, 10), 1), {"loss": values(1, range(10, 60, 10))}),
    Case(
        "same-value-duplicates",
        [row for row in run(range(10, 40, 10), 1) for _ in (0, 1)],
        {"loss": values(1, range(10, 40, 10))},
        duplicates=3,
    ),
    Case(
        "later-line-wins",
        [(10, {"loss": 1.0}), (20, {"loss": 2.0}), (10, {"loss": 1.5})],
        {"loss": {10: 1.5, 20: 2.0}},
        duplicates=1,
        conflicting=1,
        out_of_order=1,
    ),
    Case(
        # two writers, the second lagging two intervals behind (file 20's pattern, lines 804..1046)
        "jitter-two-writers-lagging",
        interleave(run(range(30, 130, 10), 1), run(range(10, 110, 10), 2)) + run([110, 120], 2),
        {"loss": values(2, range(10, 130, 10))},  # the lagging writer logged every step last
        duplicates=10,
        conflicting=10,
        out_of_order=11,  # B's 10..100 behind A, and B's 110 behind A's last line (120)
    ),
    Case(
        # three intervals back and then past the old frontier: within tolerance (5 intervals), so jitter
        "small-regression-is-jitter",
        run(range(10, 110, 10), 1) + run(range(80, 140, 10), 2),
        {"loss": values(1, range(10, 80, 10)) | values(2, range(80, 140, 10))},
        duplicates=3,
        conflicting=3,
        out_of_order=2,
    ),
    Case(
        "rewind",
        run(range(10, 210, 10), 1) + run(range(100, 260, 10), 2),
        {"loss": values(1, range(10, 100, 10)) | values(2, range(100, 260, 10))},
        rewinds=[(21, 200, 100, 10, 0)],
        duplicates=1,  # step 100 itself: not past the new step, so overwritten by the later line
        conflicting=1,
    ),
    Case(
        "rewind-drops-what-is-not-relogged",
        run(range(10, 210, 10), 1)
        + [(150, {"eval_loss": 0.5})]  # the abandoned run evaluated at 150 ...
        + run(range(110, 160, 10), 2),  # ... the resumed one stopped logging at 150, without an eval
        {"loss": values(1, range(10, 110, 10)) | values(2, range(110, 160, 10))},
        # abandoned: loss 120..200 and eval@150; the resumed run re-logs loss 120..150; 6 are dropped
        rewinds=[(22, 150, 110, 10, 6)],
        duplicates=1,  # loss@110 is not past the new step: the resumed line overwrites it
        conflicting=1,
        out_of_order=1,  # the eval line at 150: within tolerance of 200, so jitter
    ),
    Case(
        "rewind-to-zero",
        run(range(0, 110, 10), 1) + run(range(0, 40, 10), 2),
        {"loss": values(2, range(0, 40, 10))},
        rewinds=[(12, 100, 0, 10, 7)],
        duplicates=1,
        conflicting=1,
    ),
    Case(
        "two-rewinds",
        run(range(10, 110, 10), 1) + run(range(40, 160, 10), 2) + run(range(20, 70, 10), 3),
        {"loss": values(1, [10]) | values(3, range(20, 70, 10))},
        # first: 50..100 abandoned, only 50 and 60 still have a value at the end (the third run's);
        # second: 30 (first run) and 40..150 (second run) abandoned, 30..60 re-logged
        rewinds=[(11, 100, 40, 6, 4), (23, 150, 20, 13, 9)],
        duplicates=2,  # step 40 at the first rewind, step 20 at the second
        conflicting=2,
    ),
    Case(
        # a late flush of an old line: far behind, but the log returns to the frontier at once
        "stray-late-line-is-not-a-rewind",
        run(range(10, 110, 10), 1) + [(20, {"loss": 9.0})] + run([110, 120, 130], 1),
        {"loss": values(1, range(10, 140, 10)) | {20: 9.0}},
        duplicates=1,
        conflicting=1,
        out_of_order=1,
    ),
    Case(
        "regression-on-last-line-is-not-a-rewind",
        run(range(10, 110, 10), 1) + run([10], 2),
        {"loss": values(1, range(20, 110, 10)) | values(2, [10])},
        duplicates=1,
        conflicting=1,
        out_of_order=1,
    ),
    Case(
        "nulls-skip-the-key-only",
        [
            (10, {"loss": 1.0, "eval_loss": None}),
            (20, {"loss": None, "eval_loss": 0.5}),
            (10, {"loss": None}),  # a later null does not erase the earlier value
        ],
        {"loss": {10: 1.0}, "eval_loss": {20: 0.5}},
        out_of_order=1,
    ),
    Case(
        "text-and-bools-skipped-non-finite-kept",
        [(10, {"loss": "NaN", "flag": True, "note": "warmup"}), (20, {"loss": math.inf, "x": "-Infinity"})],
        {"loss": {10: math.nan, 20: math.inf}, "x": {20: -math.inf}},
    ),
    Case("empty", [], {}),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_clean(case: Case):
    out = clean(lines(*case.rows))
    got: dict[str, dict[int, float]] = {}
    for p in out.points:
        assert p.step not in got.setdefault(p.key, {}), f"two points for {p.key}@{p.step}"
        got[p.key][p.step] = p.value
    assert got.keys() == case.expect.keys()
    for key, expected in case.expect.items():
        assert list(got[key]) == sorted(expected), key
        for step, value in expected.items():
            assert got[key][step] == pytest.approx(value, nan_ok=True), (key, step)
    assert [(r.line, r.from_step, r.to_step, r.abandoned, r.dropped) for r in out.rewinds] == case.rewinds
    assert (out.duplicates, out.conflicting, out.out_of_order) == (
        case.duplicates,
        case.conflicting,
        case.out_of_order,
    )
    assert [p.step for p in out.points] == sorted(p.step for p in out.points)


def test_notes_say_what_was_done():
    rows = [row for row in run(range(10, 210, 10), 1) for _ in (0, 1)] + run(range(100, 130, 10), 2)
    rows.insert(5, (10, {"loss": None}))
    notes = clean(lines(*rows)).notes
    assert notes == [
        "collapsed 21 duplicate points; 1 had a different value and the later line's was kept",
        "sorted 1 out-of-order line into place (at most 20 steps behind)",
        "rewind at line 42: 200 → 100 (highest step so far 200); 10 abandoned points past step 100: "
        "2 re-logged by the resumed run, dropped 8",
        "skipped 1 null value (loss×1)",
    ]


def test_skipped_values_are_counted_per_key():
    out = clean(lines((1, {"a": None, "b": "text"}), (2, {"a": None})))
    assert out.points == []
    assert out.skipped == {"a": 2, "b": 1}


BAD_STEP = "skipped 1 line whose step is below 0 or beyond 9007199254740992 (line 3)"


BAD_KEY_NOTE = "skipped 1 value under a blank key or one holding a control character"


@pytest.mark.parametrize(
    ("bad", "note"),
    [
        pytest.param(
            (-5, {"loss": 0.9}),
            "skipped 1 line whose step is below 0 or beyond 9007199254740992 (line 3)",
            id="negative-step",
        ),  # fmt: skip
        pytest.param(
            (10**30, {"loss": 0.9}),
            "skipped 1 line whose step is below 0 or beyond 9007199254740992 (line 3)",
            id="step-beyond-any-point",
        ),  # fmt: skip
        pytest.param((30, {"": 0.9}), BAD_KEY_NOTE, id="empty-key"),
        pytest.param((30, {" \t": 0.9}), BAD_KEY_NOTE, id="blank-key"),
        pytest.param(
            (30, {"lo\x00ss": 0.9}),
            BAD_KEY_NOTE,
            id="nul-key",
        ),
        pytest.param(
            (30, {"lo\nss": 0.9}),
            BAD_KEY_NOTE,
            id="newline-key",
        ),
    ],
)
def test_points_no_series_can_hold_are_skipped_not_fatal(bad: tuple[int, dict], note: str):
    out = clean(lines((10, {"loss": 1.0}), (20, {"loss": 0.95}), bad, (40, {"loss": 0.85})))
    assert [(p.key, p.step) for p in out.points] == [("loss", 10), ("loss", 20), ("loss", 40)]
    assert note in out.notes


def test_tolerance_is_a_parameter():
    rows = run(range(10, 110, 10), 1) + run(range(80, 140, 10), 2)
    assert clean(lines(*rows)).rewinds == []
    # the log returns to 100 two steps after the drop: only a one-step confirmation calls it a rewind
    assert clean(lines(*rows), jitter_intervals=1).rewinds == []
    (rewind,) = clean(lines(*rows), jitter_intervals=1, confirm=1).rewinds
    assert (rewind.from_step, rewind.to_step) == (100, 80)


@pytest.mark.parametrize(
    ("steps", "interval"),
    [
        ([], 1),
        ([7], 1),
        ([10, 20, 30, 40], 10),
        ([30, 10, 20, 20, 10], 10),  # order and repeats do not matter
        ([5, 10, 15, 20, 25, 2178], 5),  # LLaMA-Factory's odd last step
        ([0, 10, 20, 25, 30], 5),  # gaps 10, 10, 5, 5: a tie goes to the smaller gap
    ],
)
def test_log_interval(steps, interval):
    assert log_interval(steps) == interval
