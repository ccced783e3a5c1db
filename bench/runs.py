"""A run the benches judge: its evaluations, its last step and the config its trainer sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Evals = list[tuple[int, float]]


@dataclass(frozen=True)
class Curve:
    name: str
    evals: Evals
    end: int
    config: dict[str, Any]
