"""The resumable per-run state of the stopping engine, and its JSON form.

The state holds what the next check needs and nothing more (best, counter, EMA, a bounded window of
recent values), so a decision costs O(new points). It lives in its own module so that the rules and the
engine that dispatches to them both depend on it, and not on each other.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

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

    def to_dict(self) -> dict[str, Any]:
        # JSON columns on PostgreSQL reject Infinity/NaN tokens, so non-finite floats travel as strings.
        return _encode(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> StopState:
        if not data:
            return cls()
        known = {k: v for k, v in _decode(data).items() if k in cls.__dataclass_fields__}
        return cls(**known)


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
        if set(obj) == {"__float__"}:
            return unspell(obj["__float__"])
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    return obj
