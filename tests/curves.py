"""The shared real curves, read the simple way (last value per step), for tests and benchmarks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

# Real logs of real runs: their owners' data, kept beside the repository (../shared/curves) and never
# committed into it. A fresh clone has none; the tests that read them skip, saying so.
CURVES = Path(os.environ.get("LOSSWATCH_CURVES") or Path(__file__).resolve().parents[2] / "shared" / "curves")
AVAILABLE = CURVES.is_dir()
MISSING = (
    f"real curves not found at {CURVES} (shared/curves beside the repository: their owners' data, "
    "never committed; LOSSWATCH_CURVES points elsewhere)"
)


def require() -> Path:
    """The curves folder, or a skip that says where the curves come from."""
    if not AVAILABLE:
        pytest.skip(MISSING)
    return CURVES


def rows(name: str) -> tuple[list[dict], str]:
    """The file's log rows and the name of its step field (HF `step`, LLaMA-Factory `current_steps`)."""
    path = require() / name
    text = path.read_text()
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()], "current_steps"
    return json.loads(text)["log_history"], "step"


def key_series(name: str, key: str) -> list[tuple[int, float]]:
    """One key, the last value logged for each step, sorted by step."""
    found, step_key = rows(name)
    points: dict[int, float] = {}
    for r in found:
        if r.get(step_key) is not None and r.get(key) is not None:
            points[int(r[step_key])] = float(r[key])
    return sorted(points.items())


def load(name: str) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    return key_series(name, "loss"), key_series(name, "eval_loss")


def names() -> list[str]:
    """Every curve file's name; none without the curves (parametrized tests then carry the `curves` mark)."""
    if not AVAILABLE:
        return []
    return sorted(p.name for p in CURVES.iterdir() if p.suffix in (".json", ".jsonl"))


def with_evals(minimum: int = 5) -> list[str]:
    return [n for n in names() if len(load(n)[1]) >= minimum]
