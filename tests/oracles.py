"""transformers itself as the oracle for compat "hf": its EarlyStoppingCallback, then the Trainer's own
best-metric update, in the Trainer's order. Shared by the tests and bench/stop_quality.py."""

from __future__ import annotations

from types import SimpleNamespace


def hf_stop(
    evals: list[tuple[int, float]], patience: int, threshold: float, output_dir: str, greater_is_better: bool = False
) -> int | None:
    from transformers import EarlyStoppingCallback, Trainer, TrainerControl, TrainerState, TrainingArguments

    args = TrainingArguments(
        output_dir=output_dir,
        metric_for_best_model="eval_loss",
        greater_is_better=greater_is_better,
        eval_strategy="steps",
        save_strategy="steps",
        load_best_model_at_end=True,
        report_to=[],
        use_cpu=True,
    )
    state, control = TrainerState(), TrainerControl()
    callback = EarlyStoppingCallback(early_stopping_patience=patience, early_stopping_threshold=threshold)
    trainer_like = SimpleNamespace(args=args, state=state)
    for step, value in evals:
        state.global_step = step
        metrics = {"eval_loss": value}
        # evaluate() fires on_evaluate, then _maybe_log_save_evaluate raises best_metric.
        callback.on_evaluate(args, state, control, metrics)
        Trainer._determine_best_metric(trainer_like, metrics=metrics, trial=None)  # type: ignore[arg-type]
        if control.should_training_stop:
            return step
    return None
