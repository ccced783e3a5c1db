from __future__ import annotations

import pytest

from losswatch.monitor.mirrors.tags import tag

CASES = [
    ("loss", "train/loss"),
    ("eval_loss", "eval/loss"),
    ("eval_accuracy", "eval/accuracy"),
    ("test_loss", "test/loss"),
    ("learning_rate", "train/learning_rate"),
    ("grad_norm", "train/grad_norm"),
    ("evaluation", "train/evaluation"),
]


@pytest.mark.parametrize(("key", "expected"), CASES, ids=[c[0] for c in CASES])
def test_tag_follows_transformers_rewrite_logs(key: str, expected: str) -> None:
    assert tag(key) == expected
