"""LLaMA-Factory's `trainer_log.jsonl`: one JSON object per logging step, written by its LogCallback."""

from __future__ import annotations

import json
from pathlib import Path

from .base import ImportedLog, Record, log_name, plural, to_step
from .clean import clean
from .errors import UnreadableLog

FORMAT = "llamafactory_trainer_log"

# Progress of the run, not measurements of the model: they go to the config or nowhere.
PROGRESS_KEYS = frozenset({"current_steps", "total_steps", "percentage", "elapsed_time", "remaining_time"})
# Older LLaMA-Factory wrote `lr`; newer writes `learning_rate`, as the HF Trainer does.
RENAMES: dict[str, str] = {"lr": "learning_rate"}


def parse(path: Path, text: str) -> ImportedLog:
    records: list[Record] = []
    config: dict = {}
    bad_lines: list[int] = []
    summaries = 0
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw)
        except (json.JSONDecodeError, RecursionError):
            # A run killed mid-write leaves a truncated last line; the rest of the log is still good.
            bad_lines.append(line)
            continue
        if not isinstance(entry, dict):
            bad_lines.append(line)
            continue
        if "current_steps" not in entry:
            summaries += 1
            continue
        step = to_step(entry["current_steps"])
        if step is None:
            bad_lines.append(line)
            continue
        if to_step(entry.get("total_steps")) is not None:
            config["total_steps"] = to_step(entry["total_steps"])
        values = {RENAMES.get(k) or k: v for k, v in entry.items() if k not in PROGRESS_KEYS}
        records.append(Record(line, step, values))

    if not records:
        raise UnreadableLog(path, "no line has current_steps (not a LLaMA-Factory trainer_log.jsonl)")
    cleaned = clean(records, unit="line")
    if not cleaned.points:
        raise UnreadableLog(path, "no line carries a numeric metric")
    notes = list(cleaned.notes)
    if summaries:
        notes.append(f"skipped {plural(summaries, 'line')} without current_steps (summaries, not steps)")
    if bad_lines:
        notes.append(
            f"skipped {plural(len(bad_lines), 'line')} not holding a JSON object with a whole-number "
            f"current_steps (a run killed mid-write truncates its last line); first at line {bad_lines[0]}"
        )
    return ImportedLog(
        name=log_name(path),
        config=config,
        points=cleaned.points,
        source_format=FORMAT,
        notes=notes,
        rewinds=[r.to_step for r in cleaned.rewinds],
    )
