"""HuggingFace Trainer's `trainer_state.json`: `log_history` holds every `Trainer.log` call."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .base import ImportedLog, Record, log_name, plural, scalar_config, to_step
from .clean import clean
from .errors import UnreadableLog

FORMAT = "hf_trainer_state"


def parse(path: Path, state: Mapping[str, object]) -> ImportedLog:
    """Read a parsed `trainer_state.json`; every numeric field of an entry but `step` is a metric."""
    history = state.get("log_history")
    if not isinstance(history, list):
        raise UnreadableLog(path, "JSON object has no log_history list (not a trainer_state.json)")
    if not history:
        raise UnreadableLog(path, "log_history is empty (no step was logged)")

    records: list[Record] = []
    no_step = 0
    for line, entry in enumerate(history, start=1):
        step = to_step(entry.get("step")) if isinstance(entry, dict) else None
        if step is None:
            no_step += 1
            continue
        records.append(Record(line, step, {k: v for k, v in entry.items() if k != "step"}))

    cleaned = clean(records, unit="log_history entry")
    if not cleaned.points:
        raise UnreadableLog(path, "log_history has no numeric metric with a step")
    notes = list(cleaned.notes)
    if no_step:
        entries = plural(no_step, "log_history entry", "log_history entries")
        notes.append(f"skipped {entries} without a whole-number step")
    return ImportedLog(
        name=log_name(path),
        # stateful_callbacks and log_history are structures, not settings: only scalars go to the config
        config=scalar_config(state),
        points=cleaned.points,
        source_format=FORMAT,
        notes=notes,
        rewinds=[r.to_step for r in cleaned.rewinds],
    )
