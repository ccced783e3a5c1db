"""Where a run's id is kept, so a resume from a checkpoint continues the same run."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger("losswatch")

RUN_FILE = "run.json"  # in the spool folder: the output dir's latest run
CHECKPOINT_FILE = "losswatch.json"  # in each checkpoint: the run it belongs to


def read_run_id(folder: str | Path | None, name: str) -> str | None:
    if not folder:
        return None
    try:
        data = json.loads((Path(folder) / name).read_text())
        run_id = data.get("run_id")
        return run_id if isinstance(run_id, str) and run_id else None
    except (OSError, ValueError, AttributeError):
        return None


def write_run_id(folder: str | Path, name: str, run_id: str, **extra: Any) -> None:
    try:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        tmp = path / (name + ".tmp")
        tmp.write_text(json.dumps({"run_id": run_id, **extra}))
        tmp.replace(path / name)
    except OSError as exc:
        log.warning("losswatch: could not record the run id in %s (%s)", folder, exc)


def resumed_run_id(output_dir: str, global_step: int, spool_dir: Path, hint: Any = None) -> str | None:
    """The run a resumed training continues: the checkpoint's record first, then the output dir's."""
    candidates = []
    if isinstance(hint, str):
        candidates.append(Path(hint))
    candidates.append(Path(output_dir) / f"checkpoint-{global_step}")
    for folder in candidates:
        run_id = read_run_id(folder, CHECKPOINT_FILE)
        if run_id:
            return run_id
    return read_run_id(spool_dir, RUN_FILE)
