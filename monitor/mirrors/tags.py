"""Metric keys as transformers' TensorBoardCallback and WandbCallback name them (`rewrite_logs`)."""

from __future__ import annotations

DECISION_TAG = "losswatch/decision"
DIAGNOSIS_TAG = "losswatch/diagnosis"


def tag(key: str) -> str:
    """`eval_loss` → `eval/loss`, `test_x` → `test/x`, anything else → `train/<key>`."""
    for prefix in ("eval", "test"):
        if key.startswith(prefix + "_"):
            return f"{prefix}/{key[len(prefix) + 1 :]}"
    return f"train/{key}"
