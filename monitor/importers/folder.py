"""A training output folder is one run: its identity, its configuration, and whether it has ended.

An output folder is what the HF Trainer and LLaMA-Factory write into: `trainer_log.jsonl` while
training (LLaMA-Factory), `checkpoint-N/trainer_state.json` at each save, `trainer_state.json`,
`all_results.json` and `train_results.json` when training is over, and the configuration the
LLaMA-Factory web UI saves beside them (`training_args.yaml`, `llamaboard_config.yaml`).

Identity: the folder's absolute path and the first entry its training logged. The first entry never
changes while the log grows, and the watcher and `losswatch import` read the same, so one training
is one run whatever restarts them; a new training into the same folder (LLaMA-Factory's
`overwrite_output_dir` deletes the old log) logs another first entry and is another run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

LOG_FILES = ("trainer_state.json", "trainer_log.jsonl")
STATE = "trainer_state.json"
LOG = "trainer_log.jsonl"
# Written once training is over (the Trainer's save_state, LLaMA-Factory's end of run).
END_MARKS = ("trainer_state.json", "all_results.json", "train_results.json")
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")

# The configuration keys losswatch's advice and guards read, with the HF TrainingArguments names.
CONFIG_KEYS = (
    "max_steps",
    "num_train_epochs",
    "warmup_steps",
    "warmup_ratio",
    "logging_steps",
    "eval_strategy",
    "eval_steps",
    "save_strategy",
    "save_steps",
    "save_total_limit",
    "load_best_model_at_end",
    "metric_for_best_model",
    "lr_scheduler_type",
    "learning_rate",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "max_grad_norm",
    "val_size",
    "stage",
    "finetuning_type",
    "model_name_or_path",
)
# llamaboard_config.yaml stores the web UI's fields as "train.<name>"; these are renamed.
_BOARD_RENAMES = {"batch_size": "per_device_train_batch_size"}
# trainer_state.json's own names for TrainingArguments fields.
_STATE_RENAMES = {"train_batch_size": "per_device_train_batch_size"}


def output_folder(path: Path) -> Path | None:
    """The output folder `path` belongs to: itself, or the folder around a trainer log or state
    (a checkpoint's belongs to the folder around the checkpoint); None for any other file."""
    path = path.resolve()
    if path.is_dir():
        return path
    if path.name not in LOG_FILES:
        return None
    parent = path.parent
    return parent.parent if _CHECKPOINT.match(parent.name) else parent


def latest_checkpoint_state(folder: Path) -> Path | None:
    """The trainer_state.json of the checkpoint with the highest step, if any."""
    best: tuple[int, Path] | None = None
    for child in folder.glob("checkpoint-*"):
        m = _CHECKPOINT.match(child.name)
        if m and (child / STATE).is_file() and (best is None or int(m.group(1)) > best[0]):
            best = (int(m.group(1)), child / STATE)
    return best[1] if best else None


def log_source(folder: Path) -> Path | None:
    """Which file of the folder holds its log: the final state, the growing log, the latest checkpoint's state."""
    for name in LOG_FILES:
        if (folder / name).is_file():
            return folder / name
    return latest_checkpoint_state(folder)


def anchor(folder: Path) -> str:
    """The first entry the training logged, as text; "" while nothing is logged yet."""
    try:
        with open(folder / LOG, "rb") as f:
            first = f.readline()
        if first.endswith(b"\n") and first.strip():
            return first.decode("utf-8-sig", "replace").strip()
    except OSError:
        pass
    for state in (folder / STATE, latest_checkpoint_state(folder)):
        history = _read_json(state).get("log_history") if state else None
        if isinstance(history, list) and history:
            return json.dumps(history[0], sort_keys=True)
    return ""


def identity(folder: Path) -> str:
    return f"{folder.resolve()}\n{anchor(folder)}"


def config(folder: Path) -> dict[str, Any]:
    """What the folder says about the training's settings, under TrainingArguments' names.

    LLaMA-Factory's training_args.yaml (the exact arguments) wins over its web UI's form
    (llamaboard_config.yaml), which wins over what trainer_state.json records."""
    merged: dict[str, Any] = {}
    for layer in (_state_config(folder), _board_config(folder), _yaml(folder / "training_args.yaml")):
        merged.update({k: v for k, v in layer.items() if _meaningful(k, v)})
    return merged


def ended(folder: Path) -> bool:
    return any((folder / name).is_file() for name in END_MARKS)


def status(last_step: int | None, max_steps: Any, *, over: bool) -> str | None:
    """finished | stopped for a training that is over, None while it may still be running.

    Over: its folder holds what a training writes at its end (`over`), or the log reached its planned
    last step. Stopped: it ended before that step (an early stop, LLaMA-Factory's Abort)."""
    planned = max_steps if isinstance(max_steps, int) and not isinstance(max_steps, bool) and max_steps > 0 else None
    reached = planned is not None and last_step is not None and last_step >= planned
    if reached:
        return "finished"
    if over:
        return "stopped" if planned is not None and last_step is not None else "finished"
    return None


def _meaningful(key: str, value: Any) -> bool:
    if value is None or isinstance(value, (dict, list)):
        return False
    # HF writes -1 for "no limit"; it must not hide a total the log knows
    return not (key == "max_steps" and isinstance(value, (int, float)) and value <= 0)


def _read_json(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return {}
    if not isinstance(data, Mapping):
        return {}
    return {str(k): v for k, v in data.items() if k in CONFIG_KEYS}


def _board_config(folder: Path) -> dict[str, Any]:
    raw = _yaml_all(folder / "llamaboard_config.yaml")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if not key.startswith("train."):
            continue
        name = _BOARD_RENAMES.get(key[len("train.") :], key[len("train.") :])
        if name in CONFIG_KEYS:
            out[name] = value
    val_size = out.get("val_size")
    if isinstance(val_size, (int, float)) and val_size > 1e-6:
        # what the web UI turns a validation split into
        out.setdefault("eval_strategy", "steps")
        if "save_steps" in out:
            out.setdefault("eval_steps", out["save_steps"])
    return out


def _yaml_all(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return {}
    return {str(k): v for k, v in data.items()} if isinstance(data, Mapping) else {}


def _state_config(folder: Path) -> dict[str, Any]:
    state = _read_json(folder / STATE) or _read_json(latest_checkpoint_state(folder))
    out = {_STATE_RENAMES.get(k, k): v for k, v in state.items() if _STATE_RENAMES.get(k, k) in CONFIG_KEYS}
    return out
