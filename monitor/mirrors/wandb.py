"""The W&B mirror: one W&B run per losswatch run (`id` = our id, `resume="allow"`), kept open across cycles.

Points are logged against the training step as a metric of its own (`train/global_step`, every other metric's
x-axis through `define_metric`), as transformers' WandbCallback logs them, and W&B's own `_step` just counts
rows. So a key that comes late for a step already sent (the evaluation logged minutes after the training
loss of its step, a second writer's key) is still sent, in a row of its own at that step. W&B cannot rewrite
history, so the cursor is a watermark per key (the last step of it sent):
- a point at or below its key's watermark (an overwrite, a refill after a rewind) is not sent; a rewind is
  recorded in the run's summary (`losswatch/rewound_to`), and the steps past the watermark are sent as they
  come. TensorBoard, which can purge, shows the rewritten curve.
Stop decisions become `run.alert`s. WANDB_MODE, WANDB_API_KEY, WANDB_DIR, WANDB_PROJECT and WANDB_ENTITY
are honoured (wandb reads them itself); with no key and no mode the runs are written offline.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, func, select

from losswatch.monitor.mirrors import reading
from losswatch.monitor.mirrors.cursors import RunInfo
from losswatch.monitor.mirrors.tags import tag
from losswatch.monitor.models import MetricKey, MetricSummary

log = logging.getLogger("losswatch.mirrors")

# Every metric's x-axis, as transformers' WandbCallback names it.
STEP_METRIC = "train/global_step"
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
        if "wandb" not in sys.modules:
            # A wandb service named in the environment (WANDB_SERVICE) was started by whoever started this
            # process: its runs, a killed predecessor's among them, are not this service's, and one of them still
            # "in use" there refuses ours (a restarted server mirrored nothing to W&B). This process starts its
            # own, as it would have without the variable.
            os.environ.pop("WANDB_SERVICE", None)
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
        run.define_metric(STEP_METRIC)
        run.define_metric("*", step_metric=STEP_METRIC, step_sync=True)
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
        marks: dict[str, int] = dict(state.get("keys") or {})
        after_decision = int(state.get("decision", 0))
        if info.id not in self.runs and mode() == "offline":
            # A new process opens a new offline file. What wandb's service process had not yet written
            # when the last one died is lost, so each offline file gets the whole history: the newest
            # is complete on its own for `wandb sync`. (Online, W&B's resume says where it stands.)
            marks, after_decision = {}, 0
        elif "keys" not in state and state.get("step") is not None:
            # An earlier release kept one watermark for every key.
            with engine.connect() as conn:
                marks = dict.fromkeys(reading.keys(conn, info.id), int(state["step"]))
        if info.id not in self.runs and marks and mode() == "online" and self._open(info).starting_step == 0:
            # Online, W&B resumes the run where its server stands; one that holds no row yet gets everything.
            # (Rows a dead process had logged but not uploaded are not sent again: which keys they held is not
            # known, and sending all again would double the rest.)
            marks = {}
        with reading.snapshot(engine) as conn:
            newest = conn.scalar(
                select(func.max(MetricSummary.last_step))
                .join(MetricKey, MetricKey.id == MetricSummary.key_id)
                .where(MetricKey.run_id == info.id)
            )
            # Each key only past its own watermark: below it W&B already holds a value (or a rewound one).
            rows: dict[int, dict[str, float]] = {}
            for name, key_id in reading.keys(conn, info.id).items():
                for p in reading.points(conn, key_id, after=marks.get(name))[0]:
                    rows.setdefault(p.step, {})[name] = p.value
            decisions = reading.decisions(conn, info.id, after_id=after_decision)
        steps = sorted(rows)
        alerts = [d for d in decisions if d["should_stop"]]
        out = dict(state)
        last = max(marks.values()) if marks else None
        rewound = last is not None and (newest is None or newest < last) and state.get("rewound_to") != newest
        if not steps and not alerts and not rewound:
            if info.status != "running":
                self.close(info.id, failed=info.status == "failed")
            return out, last, True

        run = self._open(info)
        if self.note() and not self._hinted:
            log.warning("mirror: %s", self.note())
            self._hinted = True
        out["note"] = self.note()
        if rewound:
            run.summary["losswatch/rewound_to"] = newest
            out["rewound_to"] = newest
        for s in steps:
            # A metric of the run's own called global_step would be the x-axis itself: the step wins.
            run.log({**{tag(k): v for k, v in rows[s].items() if tag(k) != STEP_METRIC}, STEP_METRIC: s}, commit=True)
            marks.update(dict.fromkeys(rows[s], s))
        for d in alerts:
            level = ALERT_REASONS.get(d["reason"], "WARN")
            run.alert(title=f"losswatch: stop ({d['reason']}) at step {d['step']}", text=d["message"], level=level)
        if decisions:
            out["decision"] = decisions[-1]["id"]
            run.summary["losswatch/decision"] = decisions[-1]["reason"]
        out["keys"] = marks
        out.pop("step", None)  # the single watermark of an earlier release
        if info.status != "running":
            self.close(info.id, failed=info.status == "failed")
        return out, max(marks.values()) if marks else None, True

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
