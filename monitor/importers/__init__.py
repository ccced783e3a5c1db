"""Read finished (or running) training logs into losswatch points, and upload them.

`read_log` accepts a HuggingFace `trainer_state.json`, a LLaMA-Factory `trainer_log.jsonl`,
a TensorBoard events file, or a folder holding one of them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from . import folder as output
from . import hf_state, llamafactory, tensorboard
from .base import ImportedLog, Point
from .errors import LogImportError, UnreadableLog, UploadError
from .upload import upload

__all__ = ["ImportedLog", "LogImportError", "Point", "UnreadableLog", "UploadError", "read_log", "upload"]

_EXPECTED = (
    "losswatch reads a HF trainer_state.json, a LLaMA-Factory trainer_log.jsonl, TensorBoard event files "
    "(events.out.tfevents.*) or a folder holding one of them"
)


def read_log(path: str | Path) -> ImportedLog:
    """Read one training log, whatever its format; raise UnreadableLog with the reason otherwise.

    A training output folder (or its trainer_state.json / trainer_log.jsonl) is one run: the log gets
    the folder's identity, the configuration found there, and `status` once the training is over."""
    path = Path(path)
    if not path.exists():
        raise UnreadableLog(path, "no such file or directory")
    folder = output.output_folder(path)
    # Before reading: a log read after the training's end files appeared is complete, while one read
    # just before them may miss its last lines.
    over = folder is not None and output.ended(folder)
    log = _read_folder(path) if path.is_dir() else _read_file(path)
    if "total_steps" in log.config:
        log.config.setdefault("max_steps", log.config["total_steps"])
    if log.source_format == tensorboard.FORMAT:
        folder = None
    if folder is not None:
        log.identity = output.identity(folder)
        log.config = {**log.config, **output.config(folder)}
    last_step = max((p.step for p in log.points), default=None)
    log.status = output.status(last_step, log.config.get("max_steps"), over=over)
    return log


def _read_file(path: Path) -> ImportedLog:
    if tensorboard.is_event_file(path):
        return tensorboard.read(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UnreadableLog(path, exc.strerror or str(exc)) from exc
    try:
        text = raw.decode("utf-8-sig")  # -sig: editors on Windows prepend a BOM
    except UnicodeDecodeError as exc:
        raise UnreadableLog(path, f"not a UTF-8 text file; {_EXPECTED}") from exc
    if not text.strip():
        raise UnreadableLog(path, "the file is empty")
    log = _parse_text(path, text)
    log.fingerprint = hashlib.sha256(raw).hexdigest()
    return log


def _read_folder(path: Path) -> ImportedLog:
    # The Trainer's final state is complete and consistent across resumes; LLaMA-Factory's log exists
    # while training runs; a plain Trainer leaves only its checkpoints' states until the end.
    source = output.log_source(path)
    if source is not None:
        log = _read_file(source)
        log.notes.insert(0, f"read {source.relative_to(path)} of the folder")
        return log
    if not any(p.is_file() for p in path.rglob(f"*{tensorboard.EVENT_FILE_MARK}*")):
        raise UnreadableLog(path, f"nothing to import in this folder; {_EXPECTED}")
    return tensorboard.read(path)


def _parse_text(path: Path, text: str) -> ImportedLog:
    try:
        data = json.loads(text)
    except RecursionError as exc:
        # Python's parser recurses per level: a hostile or broken file must not end in a traceback.
        raise UnreadableLog(path, f"JSON nested too deeply to be a training log; {_EXPECTED}") from exc
    except json.JSONDecodeError as whole:
        # Not one JSON document: it may still be JSON lines, if its first line is an object.
        first = next(line for line in text.splitlines() if line.strip())
        try:
            head = json.loads(first)
        except (json.JSONDecodeError, RecursionError):
            head = None
        if isinstance(head, dict):
            return llamafactory.parse(path, text)
        raise UnreadableLog(
            path, f"not valid JSON ({whole.msg}: line {whole.lineno}, column {whole.colno}); {_EXPECTED}"
        ) from whole
    if isinstance(data, dict):
        if "log_history" in data:
            return hf_state.parse(path, data)
        if "current_steps" in data:  # a trainer_log.jsonl of a single line is also one JSON document
            return llamafactory.parse(path, text)
        raise UnreadableLog(path, "JSON object without log_history (not a trainer_state.json)")
    raise UnreadableLog(path, f"a JSON {_JSON_KIND.get(type(data), 'value')} at the top level; {_EXPECTED}")


# What JSON calls what json.loads returns, for a person who opened the file.
_JSON_KIND = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}
