"""The shared real curves, read the simple way (last value per step), for tests and benchmarks."""

from __future__ import annotations

import json
from pathlib import Path

CURVES = Path(__file__).resolve().parent.parent.parent / "shared" / "curves"


def load(name: str) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    path = CURVES / name
    text = path.read_text()
    if path.suffix == ".jsonl":
        rows, step_key = [json.loads(line) for line in text.splitlines() if line.strip()], "current_steps"
    else:
        rows, step_key = json.loads(text)["log_history"], "step"
    train: dict[int, float] = {}
    evals: dict[int, float] = {}
    for r in rows:
        if r.get(step_key) is None:
            continue
        if r.get("loss") is not None:
            train[int(r[step_key])] = float(r["loss"])
        if r.get("eval_loss") is not None:
            evals[int(r[step_key])] = float(r["eval_loss"])
    return sorted(train.items()), sorted(evals.items())


def names() -> list[str]:
    return sorted(p.name for p in CURVES.iterdir() if p.suffix in (".json", ".jsonl"))


def with_evals(minimum: int = 5) -> list[str]:
    return [n for n in names() if len(load(n)[1]) >= minimum]
