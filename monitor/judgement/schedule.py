"""The run's plan, read from its config: how long it is meant to run, how long it warms up, how often it
evaluates. The HF callback sends `TrainingArguments.to_dict()`; LLaMA-Factory logs and imports carry the
same names (and `total_steps`). Every field may be missing: a run without a plan is judged just as
carefully, only without the shortcuts a plan allows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from losswatch.monitor.vocabulary import MAX_STEP


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _strategy(value: Any) -> str | None:
    if value is None:
        return None
    value = getattr(value, "value", value)
    return str(value).split(".")[-1].strip().lower() or None


@dataclass(frozen=True)
class Schedule:
    planned_steps: int | None = None
    warmup_steps: int = 0
    eval_steps: int | None = None
    logging_steps: int | None = None
    evaluates: bool | None = None  # None: the config does not say

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> Schedule:
        config = config or {}
        planned = None
        for name in ("max_steps", "total_steps"):
            n = _number(config.get(name))
            # Beyond the highest step a point may carry, a "plan" is a typo or a sentinel, not a length.
            if n is not None and 0 < n <= MAX_STEP:
                planned = int(n)
                break
        warmup = _number(config.get("warmup_steps"))
        ratio = _number(config.get("warmup_ratio"))
        steps = int(warmup) if warmup and warmup > 0 else 0
        if not steps and ratio and 0 < ratio < 1 and planned:
            steps = math.ceil(ratio * planned)

        def interval(name: str) -> int | None:
            n = _number(config.get(name))
            if n is None or n <= 0:
                return None
            # HF reads a value below 1 as a share of the run.
            return max(1, math.ceil(n * planned)) if n < 1 and planned else int(n) if n >= 1 else None

        strategy = _strategy(config.get("eval_strategy", config.get("evaluation_strategy")))
        evaluates = None if strategy is None else strategy != "no"
        if config.get("do_eval") is True and evaluates is None:
            evaluates = True
        return cls(
            planned_steps=planned,
            warmup_steps=steps,
            eval_steps=interval("eval_steps"),
            logging_steps=interval("logging_steps"),
            evaluates=evaluates,
        )

    def horizon(self, step: int, every: float = 0.0) -> int:
        """Where the run is headed: its planned last step while a reading taken `every` steps is still to come
        before it; at or past the plan (no reading left) or without one, as far again as it has come (the
        careful guess: as much left as done)."""
        if self.planned_steps is not None and self.planned_steps > step and self.planned_steps - step >= every:
            return self.planned_steps
        return max(2 * step, step + 1)

    def in_warmup(self, step: int) -> bool:
        return step <= self.warmup_steps

    def to_dict(self) -> dict[str, Any]:
        return {
            "planned_steps": self.planned_steps,
            "warmup_steps": self.warmup_steps,
            "eval_steps": self.eval_steps,
            "logging_steps": self.logging_steps,
            "evaluates": self.evaluates,
        }
