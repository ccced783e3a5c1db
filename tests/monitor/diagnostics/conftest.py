"""Fixtures for the diagnostics tests: the shared real curves, parsed here on purpose.

The curves live next to the repository (../shared/curves); they exist in CI, so nothing is skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

CURVES = Path(__file__).resolve().parents[3] / ".." / "shared" / "curves"

Loader = Callable[[str, str], tuple[np.ndarray, np.ndarray]]


def load_curve(prefix: str, key: str) -> tuple[np.ndarray, np.ndarray]:
    """One key of the curve file whose name starts with `prefix` ("10_", "05"...).

    HF trainer_state.json: `log_history` rows with `step`; LLaMA-Factory trainer_log.jsonl: one row
    per line with `current_steps`. The last value logged for a step wins; steps come out sorted.
    """
    (path,) = [p for p in CURVES.iterdir() if p.name.startswith(prefix) and p.suffix in (".json", ".jsonl")]
    text = path.read_text()
    if path.suffix == ".jsonl":
        rows, step_key = [json.loads(line) for line in text.splitlines() if line.strip()], "current_steps"
    else:
        rows, step_key = json.loads(text)["log_history"], "step"
    points: dict[int, float] = {}
    for row in rows:
        if row.get(step_key) is not None and row.get(key) is not None:
            points[int(row[step_key])] = float(row[key])
    steps = sorted(points)
    return np.array(steps, dtype=np.int64), np.array([points[s] for s in steps], dtype=np.float64)


@pytest.fixture
def curve() -> Loader:
    return load_curve
