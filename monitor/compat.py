"""What each compat mode is: the library it reproduces, the policy fields that library has, and its defaults.

A compat policy means "do what that library would do". A field the library has no counterpart for is
refused rather than silently dropped, unless it is given at its neutral value (the value that changes
nothing, which is also what a stored compat policy carries for it), so that a policy read back from
`GET /runs/{id}` can be sent again as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Library:
    name: str
    # Policy field -> the library's own name for it, as its users know it.
    honours: dict[str, str]
    # The library's defaults for the fields it honours and a policy leaves out.
    defaults: dict[str, Any]
    # Why a field is refused, where the plain "has no such option" would mislead.
    notes: dict[str, str] = field(default_factory=dict)


HF = Library(
    name="transformers' EarlyStoppingCallback",
    honours={
        "monitor": "TrainingArguments.metric_for_best_model",
        "mode": "TrainingArguments.greater_is_better",
        "patience": "early_stopping_patience",
        "min_delta": "early_stopping_threshold",
    },
    # EarlyStoppingCallback(early_stopping_patience=1, early_stopping_threshold=0.0); the Trainer's
    # metric_for_best_model defaults to "loss", i.e. eval_loss.
    defaults={"monitor": "eval_loss", "patience": 1, "min_delta": 0.0},
    notes={
        "check_finite": "a NaN evaluation simply counts as one without improvement there",
        "min_steps": "the Trainer has no minimum number of steps",
        "delta_mode": "its early_stopping_threshold is absolute",
    },
)

LIGHTNING = Library(
    name="Lightning's EarlyStopping",
    honours={
        "monitor": "monitor",
        "mode": "mode",
        "patience": "patience",
        "min_delta": "min_delta",
        "check_finite": "check_finite",
        "stopping_threshold": "stopping_threshold",
        "divergence_threshold": "divergence_threshold",
        # Not the callback's but the Trainer's: a stop that triggers earlier waits for this step.
        "min_steps": "Trainer(min_steps=...)",
    },
    defaults={"patience": 3, "min_delta": 0.0, "mode": "min", "check_finite": True},
    notes={"delta_mode": "its min_delta is absolute"},
)

LIBRARIES = {"hf": HF, "lightning": LIGHTNING}

# The value of a field that changes nothing, for the fields a library does not have. A field missing here
# has its native default as its neutral value (so a field added later is covered too).
NEUTRAL: dict[str, Any] = {
    "rule": "best",
    "delta_mode": "abs",
    "smoothing": 0.0,
    "min_steps": 0,
    "overfit_sigmas": None,
    "stopping_threshold": None,
    "divergence_threshold": None,
    # transformers compares a NaN like any other value (it never wins), which is what check_finite off does.
    "check_finite": False,
}


def hf_mode(metric: str) -> str:
    """TrainingArguments: greater_is_better defaults to "the metric's name does not end with `loss`"."""
    return "min" if metric.endswith("loss") else "max"


def hf_metric(metric: str) -> str:
    """The Trainer and the callback both look up `eval_<name>` when the name lacks the prefix."""
    return metric if metric.startswith("eval_") else f"eval_{metric}"
