"""The resumable per-run state of the stopping engine, and its JSON form.

The state holds what the next check needs and nothing more (best, counter, EMA, a bounded window of
recent values), so a decision costs O(new points). It lives in its own module so that the rules and the
engine that dispatches to them both depend on it, and not on each other.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from losswatch.monitor.vocabulary import spell, unspell


@dataclass
class StopState:
    checks: int = 0
    last_step: int | None = None
    last_value: float | None = None
    best: float | None = None
    best_raw: float | None = None
    best_step: int | None = None
    wait: int = 0
    ema: float = 0.0
    ema_n: int = 0
    recent: list[float] = field(default_factory=list)
    recent_steps: list[int] = field(default_factory=list)
    hf_best: float | None = None
    stopped: dict[str, Any] | None = None
    # A stop that triggered before min_steps: it stands, and takes effect at the first point at or after it.
    held: dict[str, Any] | None = None
    last: dict[str, Any] | None = None
    guard: dict[str, Any] = field(default_factory=dict)
    diffs: list[float] = field(default_factory=list)
    above: int = 0
    # rule "forecast" (monitor/judgement/rule.py): its readings and its clauses' counters.
    judge: dict[str, Any] = field(default_factory=dict)
    # What this state was computed under (monitor/store/snapshots.basis); None for one older than the field.
    basis: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # JSON columns on PostgreSQL reject Infinity/NaN tokens, so non-finite floats travel as strings.
        # The windows travel packed (base64 of little-endian float64/int64): the state is saved on every
        # ingest, and walking a `patience`-long window element by element cost more than the whole batch.
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = _pack(value, _PACKED[name]) if name in _PACKED else _encode(value)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> StopState:
        if not data:
            return cls()
        known = {k: v for k, v in _decode(data).items() if k in cls.__dataclass_fields__}
        return cls(**known)


_PACKED = {"recent": "<f8", "recent_steps": "<i8", "diffs": "<f8"}


def _pack(values: list[Any], dtype: str) -> dict[str, str]:
    return {"__" + dtype[1:]: base64.b64encode(np.asarray(values, dtype=dtype).tobytes()).decode("ascii")}


def _encode(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"__float__": spell(obj)}
    if isinstance(obj, dict):
        return {k: _encode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_encode(v) for v in obj]
    return obj


def _decode(obj: Any) -> Any:
    if isinstance(obj, dict):
        if len(obj) == 1:
            ((tag, payload),) = obj.items()
            if tag == "__float__":
                return unspell(payload)
            if tag in ("__f8", "__i8"):
                # A state saved before packing carries plain lists, which the other branches read.
                return np.frombuffer(base64.b64decode(payload), dtype="<" + tag[2:]).tolist()
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    return obj
