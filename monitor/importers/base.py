"""What every importer produces, and the small conversions they share."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# The wire spellings of DESIGN.md and Python's own ("nan", "inf"), matched case-insensitively.
_NON_FINITE = {
    "nan": math.nan,
    "infinity": math.inf,
    "+infinity": math.inf,
    "inf": math.inf,
    "+inf": math.inf,
    "-infinity": -math.inf,
    "-inf": -math.inf,
}

# File names that say nothing about the run; the folder around them does.
_GENERIC_STEMS = {"trainer_state", "trainer_log", "all_results", "train_results"}


@dataclass(frozen=True)
class Point:
    key: str
    step: int
    value: float
    time: float | None = None


@dataclass(frozen=True)
class Record:
    """One logged entry (a JSONL line, a `log_history` item, a TensorBoard scalar event) before cleaning.

    `line` is its position in the source, 1-based, so notes can point a person at it.
    `values` holds the raw values: None, bools and text are dropped by the cleaning, not by the readers.
    """

    line: int
    step: int
    values: Mapping[str, object]
    time: float | None = None


@dataclass
class ImportedLog:
    name: str
    config: dict
    points: list[Point]
    source_format: str
    notes: list[str] = field(default_factory=list)
    # Hash of the source bytes: upload derives a stable run id from it when there is no identity.
    fingerprint: str = ""
    # A training output folder's identity (folder.identity): one folder, one run, however it grows.
    identity: str = ""
    # finished | stopped once the log shows the training is over; None while it may be running.
    status: str | None = None
    # The step each resume went back to, in the log's order: the service is told to forget what came after,
    # as the callback tells it on a resume, so the abandoned branch does not stay beside the resumed one.
    rewinds: list[int] = field(default_factory=list)

    def keys(self) -> list[str]:
        return sorted({p.key for p in self.points})

    def series(self, key: str) -> list[Point]:
        return [p for p in self.points if p.key == key]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.points:
            out[p.key] = out.get(p.key, 0) + 1
        return dict(sorted(out.items()))


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """'1 line', '2 lines': notes are read by people."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {nouns or (noun[:-1] + 'ies' if noun.endswith('y') else noun + 's')}"


def to_float(value: object) -> float | None:
    """A metric value as a float, or None when it is not one (null, bool, free text)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return _NON_FINITE.get(value.strip().lower())
    return None


def to_step(value: object) -> int | None:
    """A step as an int; a float step must be whole (some writers store 100.0)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def scalar_config(state: Mapping[str, object], skip: frozenset[str] = frozenset()) -> dict:
    """The top-level scalar fields of a state dict: numbers, text and bools; nulls carry nothing."""
    return {
        k: v for k, v in state.items() if k not in skip and v is not None and isinstance(v, (int, float, str, bool))
    }


def log_name(path: Path) -> str:
    """A readable run name: the file's stem, or its folder's name when the stem says nothing."""
    path = path.resolve()
    if path.is_dir():
        return path.name
    if path.stem not in _GENERIC_STEMS and not path.name.startswith("events.out.tfevents"):
        return path.stem
    parent = path.parent
    # checkpoint-4500/trainer_state.json belongs to the training folder around the checkpoint
    if parent.name.startswith("checkpoint-") and parent.parent.name:
        return f"{parent.parent.name}/{parent.name}"
    return parent.name or path.stem
