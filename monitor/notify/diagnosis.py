"""Diagnoses worth telling: a run's reading (monitor/diagnostics) entering `diverging`, `overfitting` or
`non_finite`. The worker reads each running run of a project that subscribed to one of them, when its
points changed and at most every `notify_diagnose_seconds`; the new state is marked in the same
transaction as the message, so a state is told once per entry into it, whichever worker sees it first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, func, insert, select, update

from losswatch.monitor.db import writer
from losswatch.monitor.diagnostics import diagnose
from losswatch.monitor.errors import NotFound
from losswatch.monitor.models import MetricKey, MetricSummary, NotificationMark, NotificationTarget, Run
from losswatch.monitor.notify import outbox
from losswatch.monitor.store import decisions, series
from losswatch.monitor.store.runs import get_run
from losswatch.monitor.vocabulary import TRAIN_LOSS, companion_key, spell

TOLD = ("diverging", "overfitting", "non_finite")
MARK = "diagnosis"


def watched_runs(conn: Connection) -> list[tuple[str, str]]:
    """(run id, signature of its points) of running runs whose project wants a diagnosis told."""
    wanted = {
        r.project_id
        for r in conn.execute(select(NotificationTarget.project_id, NotificationTarget.events))
        if set(r.events or []) & set(TOLD)
    }
    if not wanted:
        return []
    rows = conn.execute(
        select(
            Run.id, func.sum(MetricSummary.count), func.sum(MetricSummary.revision), func.max(MetricSummary.last_step)
        )
        .join(MetricKey, MetricKey.run_id == Run.id)
        .join(MetricSummary, MetricSummary.key_id == MetricKey.id)
        .where(Run.status == "running", Run.project_id.in_(wanted))
        .group_by(Run.id)
    ).all()
    return [(r[0], f"{r[1]}|{r[2]}|{r[3]}") for r in rows]


def _series(conn: Connection, run_id: str, key: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        s = series.read_series(conn, run_id=run_id, key=key)
    except NotFound:
        return np.empty(0, dtype=np.int64), np.empty(0)
    return s.steps, s.values


def read(conn: Connection, run_id: str, *, lang: str = "en") -> tuple[dict[str, Any], int | None, float | str | None]:
    """The run's reading of its monitored key (or the training loss), as the diagnostics page reads it;
    with the key's last step and last value (spelled as the wire spells it: a NaN is what is worth telling)."""
    run = get_run(conn, run_id=run_id)
    policy = decisions.policy_of(run)
    names = {k["key"] for k in series.key_summaries(conn, run_id=run_id)}
    key = policy.monitor if policy.monitor in names else TRAIN_LOSS
    steps, values = _series(conn, run_id, key)
    other = _series(conn, run_id, companion_key(key) or TRAIN_LOSS)
    mode = policy.mode if key == policy.monitor else "min"
    companion = other if other[0].size else None
    reading = diagnose(steps, values, key=key, mode=mode, companion=companion, config=run["config"], lang=lang)
    return reading, int(steps[-1]) if steps.size else None, spell(float(values[-1])) if values.size else None


def _mark(conn: Connection, run_id: str) -> str | None:
    t = NotificationMark
    return conn.scalar(select(t.value).where(t.run_id == run_id, t.event == MARK))


def tell(engine: Engine, *, run_id: str, now: float) -> str | None:
    """Read the run; if its state is newly one worth telling, queue that event. Returns the event or None."""
    with engine.connect() as conn:
        reading, step, last = read(conn, run_id)
        state = reading["state"]
        if _mark(conn, run_id) == state:
            return None
        # Messages are written in either language at delivery, so the reading goes along in both.
        zh = read(conn, run_id, lang="zh")[0]["summary"] if state in TOLD else None
    with writer(engine).begin() as conn:
        conn.execute(select(Run.id).where(Run.id == run_id).with_for_update()).first()
        before = _mark(conn, run_id)
        if before == state:
            return None  # another worker told it meanwhile
        t = NotificationMark
        if before is None:
            conn.execute(insert(t).values(run_id=run_id, event=MARK, value=state, at=now))
        else:
            conn.execute(update(t).where(t.run_id == run_id, t.event == MARK).values(value=state, at=now))
        if state not in TOLD:
            return None
        diagnosis = {"key": reading["key"], "state": state, "summary": {"en": reading["summary"], "zh": zh}}
        decision = decisions.current(conn, get_run(conn, run_id=run_id))
        outbox.emit(
            conn,
            run_id=run_id,
            event=state,
            now=now,
            step=step,
            extra={"diagnosis": diagnosis, "value": last, "decision": decision.to_dict()},
        )
        return state
