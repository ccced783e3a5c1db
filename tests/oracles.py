"""The libraries themselves as oracles for the compat modes.

transformers: its EarlyStoppingCallback, then the Trainer's own best-metric update, in the Trainer's order,
with the TrainingArguments' own defaults (greater_is_better inferred from the metric's name).
Lightning: its EarlyStopping._evaluate_stopping_criteria fed float32 tensors, as a metric logged in a
real Lightning run reaches it. Shared by the tests and bench/stop_quality.py."""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any


@dataclass
class HfOutcome:
    stop: int | None  # the step whose evaluation set should_training_stop
    counter: int  # early_stopping_patience_counter after the last evaluation fed
    greater_is_better: bool
    metric: str  # the key the callback reads


def hf_run(
    evals: list[tuple[int, float]],
    output_dir: str,
    *,
    metric: str = "eval_loss",
    greater_is_better: bool | None = None,
    patience: int | None = None,
    threshold: float | None = None,
) -> HfOutcome:
    """Arguments left None take transformers' own defaults."""
    from transformers import EarlyStoppingCallback, Trainer, TrainerControl, TrainerState, TrainingArguments

    args = TrainingArguments(
        output_dir=output_dir,
        metric_for_best_model=metric,
        greater_is_better=greater_is_better,
        eval_strategy="steps",
        save_strategy="steps",
        load_best_model_at_end=True,
        report_to=[],
        use_cpu=True,
    )
    kw: dict[str, Any] = {}
    if patience is not None:
        kw["early_stopping_patience"] = patience
    if threshold is not None:
        kw["early_stopping_threshold"] = threshold
    callback = EarlyStoppingCallback(**kw)
    state, control = TrainerState(), TrainerControl()
    trainer_like = SimpleNamespace(args=args, state=state)
    # Trainer.evaluate names every metric eval_<name>; the callback looks up the same name.
    key = metric if metric.startswith("eval_") else f"eval_{metric}"
    stop = None
    for step, value in evals:
        state.global_step = step
        metrics = {key: value}
        # evaluate() fires on_evaluate, then _maybe_log_save_evaluate raises best_metric.
        callback.on_evaluate(args, state, control, metrics)
        Trainer._determine_best_metric(trainer_like, metrics=metrics, trial=None)  # type: ignore[arg-type]
        if control.should_training_stop:
            stop = step
            break
    return HfOutcome(stop, callback.early_stopping_patience_counter, bool(args.greater_is_better), key)


def hf_stop(
    evals: list[tuple[int, float]], patience: int, threshold: float, output_dir: str, greater_is_better: bool = False
) -> int | None:
    return hf_run(evals, output_dir, greater_is_better=greater_is_better, patience=patience, threshold=threshold).stop


@dataclass
class LightningOutcome:
    stop: int | None
    reason: str  # losswatch's name for Lightning's EarlyStoppingReason
    message: str | None  # Lightning's own stopping_reason_message
    wait: int


LIGHTNING_REASONS = {
    "NON_FINITE_METRIC": "non_finite",
    "STOPPING_THRESHOLD": "stopping_threshold",
    "DIVERGENCE_THRESHOLD": "divergence_threshold",
    "PATIENCE_EXHAUSTED": "patience_exhausted",
    "NOT_STOPPED": "none",
}


def lightning_run(evals: list[tuple[int, float]], *, monitor: str = "val_loss", **kw: Any) -> LightningOutcome:
    """Each value as the float32 tensor a logged metric is (`self.log` turns a number into one)."""
    import torch
    from lightning.pytorch.callbacks import EarlyStopping

    callback = EarlyStopping(monitor=monitor, **kw)
    for step, value in evals:
        should_stop, message = callback._evaluate_stopping_criteria(torch.tensor(value, dtype=torch.float32))
        if should_stop:
            return LightningOutcome(
                step, LIGHTNING_REASONS[callback.stopping_reason.name], message, callback.wait_count
            )
    return LightningOutcome(None, "none", None, callback.wait_count)


def as_float32(value: float) -> float:
    """What `.item()` on a float32 tensor hands a client."""
    import numpy as np

    return float(np.float32(value)) if math.isfinite(value) else value


def lightning_stop(evals: list[tuple[int, float]], **kw: Any) -> int | None:
    """Lightning's EarlyStopping with its defaults (unless `kw` says otherwise), one validation value per check."""
    return lightning_run(evals, monitor="eval_loss", **kw).stop
