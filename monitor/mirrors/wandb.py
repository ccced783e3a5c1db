"""The W&B mirror: one W&B run per losswatch run (`id` = our id, `resume="allow"`), kept open across cycles.

History is logged with the training step as W&B's step, merged per step. W&B accepts only increasing
steps and cannot rewrite history, so the cursor is one watermark (the last W&B step) and:
- the newest step is held back while the run is running and changed recently, because its other keys
  (the evaluation after the training log) usually arrive a moment later;
- a point arriving for a step at or below the watermark (a late key, an overwrite, a refill after a
  rewind) is not sent; a rewind is recorded in the run's summary (`losswatch/rewound_to`), and the
  steps past the watermark are sent as they come. TensorBoard, which can purge, shows the rewritten curve.
Stop decisions become `run.alert`s. WANDB_MODE, WANDB_API_KEY, WANDB_DIR, WANDB_PROJECT and WANDB_ENTITY
are honoured (wandb reads them itself); with no key and no mode the runs are written offline.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, func, select

from losswatch.monitor.mirrors import reading
from losswatch.monitor.mirrors.cursors import RunInfo
from losswatch.monitor.mirrors.tags import tag
from losswatch.monitor.models import MetricKey, MetricSummary

log = logging.getLogger("losswatch.mirrors")

HOLD_SECONDS = 5.0
ALERT_REASONS = {"divergence_threshold": "ERROR", "non_finite": "ERROR"}


def mode() -> Literal["online", "offline", "disabled", "shared"]:
    explicit = os.environ.get("WANDB_MODE")
    if explicit == "dryrun":  # wandb's older name for offline
        return "offline"
    if explicit in ("online", "offline", "disabled", "shared"):
        return explicit  # type: ignore[return-value]  # narrowed by the membership test
    return "online" if os.environ.get("WANDB_API_KEY") else "offline"


class WandbMirror:
    name = "wandb"

    def __init__(self, data_dir: Path) -> None:
        self.dir = Path(os.environ.get("WANDB_DIR") or data_dir)
        self.runs: dict[str, Any] = {}
        self._hinted = False

    def _open(self, info: RunInfo) -> Any:
        run = self.runs.get(info.id)
        if run is not None:
            return run
        import wandb  # slow to import and spawns a service process: only when a run asks for W&B

        self.dir.mkdir(parents=True, exist_ok=True)
        run = wandb.init(
            id=info.id,
            name=info.name,
            project=os.environ.get("WANDB_PROJECT") or info.project,
            entity=os.environ.get("WANDB_ENTITY") or None,
            resume="allow",
            dir=str(self.dir),
            mode=mode(),
            config=info.config,
            reinit="create_new",
            settings=wandb.Settings(silent=True, console="off", x_disable_stats=True, save_code=False),
        )
        run.config.update(info.config, allow_val_change=True)
        self.runs[info.id] = run
        return run

    def note(self) -> str | None:
        if mode() != "offline":
            return None
        return (
            f"W&B runs are written offline under {self.dir / 'wandb'}; upload them with `wandb sync "
            f"{self.dir / 'wandb'}/offline-run-*` (or set WANDB_API_KEY)"
        )

    def sync(self, engine: Engine, info: RunInfo, state: dict[str, Any]) -> tuple[dict[str, Any], int | None, bool]:
        mark, after_decision = state.get("step"), int(state.get("decision", 0))
        if info.id not in self.runs and mode() == "offline":
            # A new process opens a new offline file. What wandb's service process had not yet written
            # when the last one died is lost, so each offline file gets the whole history: the newest
            # is complete on its own for `wandb sync`. (Online, W&B's resume says where it stands.)
            mark, after_decision = None, 0
        with reading.snapshot(engine) as conn:
            newest = conn.scalar(
                select(func.max(MetricSummary.last_step))
                .join(MetricKey, MetricKey.id == MetricSummary.key_id)
                .where(MetricKey.run_id == info.id)
            )
            rows = reading.points_by_step(conn, info.id, after=mark)
            decisions = reading.decisions(conn, info.id, after_id=after_decision)
        settled = info.status != "running" or info.changed_at is None or time.time() - info.changed_at > HOLD_SECONDS
        held_step = max(rows) if rows and not settled else None
        held = held_step is not None
        steps = [s for s in sorted(rows) if held_step is None or s < held_step]
        alerts = [d for d in decisions if d["should_stop"]]
        out = dict(state)
        rewound = mark is not None and (newest is None or newest < mark) and state.get("rewound_to") != newest
        if not steps and not alerts and not rewound:
            if info.status != "running" and not held:
                self.close(info.id, failed=info.status == "failed")
            return out, mark, not held

        fresh = info.id not in self.runs
        run = self._open(info)
        if fresh and mark is not None and 0 < run.starting_step <= mark:
            # Online resume: the server holds steps below starting_step; send what it lost since.
            with reading.snapshot(engine) as conn:
                rows = reading.points_by_step(conn, info.id, after=run.starting_step - 1)
            steps = [s for s in sorted(rows) if held_step is None or s < held_step]
        if self.note() and not self._hinted:
            log.warning("mirror: %s", self.note())
            self._hinted = True
        out["note"] = self.note()
        if rewound:
            run.summary["losswatch/rewound_to"] = newest
            out["rewound_to"] = newest
        for s in steps:
            run.log({tag(k): v for k, v in rows[s].items()}, step=s, commit=True)
        for d in alerts:
            level = ALERT_REASONS.get(d["reason"], "WARN")
            run.alert(title=f"losswatch: stop ({d['reason']}) at step {d['step']}", text=d["message"], level=level)
        if decisions:
            last = decisions[-1]
            run.summary["losswatch/decision"] = last["reason"]
            out["decision"] = last["id"]
        if steps:
            out["step"] = steps[-1]
        if info.status != "running" and not held:
            self.close(info.id, failed=info.status == "failed")
        return out, out.get("step"), not held

    def close(self, run_id: str, failed: bool = False) -> None:
        run = self.runs.pop(run_id, None)
        if run is not None:
            run.finish(exit_code=1 if failed else 0)

    def close_all(self) -> None:
        for run_id in list(self.runs):
            try:
                self.close(run_id)
            except Exception as exc:  # wandb's own trouble must not block the service's shutdown
                log.warning("mirror: finishing W&B run %s failed: %s", run_id, exc)
