"""The TensorBoard mirror: one folder per run, `<tensorboard_dir>/<project>/<run name>-<id>`.

Cursor state: per key the last step written and a digest of the key's points up to it. A digest that
no longer matches means history already written was rewound or overwritten; the mirror then writes
TensorBoard's purge marker (a SessionLog START) and everything again. A writer opened by a new process
also starts with a purge at the earliest step it is about to write, which drops whatever a crash left
past the cursor, so nothing is ever shown twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from losswatch.monitor.mirrors import events, reading
from losswatch.monitor.mirrors.cursors import RunInfo
from losswatch.monitor.mirrors.tags import DECISION_TAG, DIAGNOSIS_TAG, tag
from losswatch.monitor.vocabulary import companion_key, headline_key

log = logging.getLogger("losswatch.mirrors")


def run_folder(root: Path, info: RunInfo) -> Path:
    return root / events.safe_name(info.project) / f"{events.safe_name(info.name)}-{info.id}"


def decision_text(d: dict[str, Any]) -> str:
    verdict = "**stop**" if d["should_stop"] else "continue"
    return f"{verdict} (`{d['reason']}`) at step {d['step']}: {d['message']}"


def diagnosis_text(conn: Connection, info: RunInfo, names: dict[str, int]) -> str | None:
    """The diagnosis summary of the monitored key; None when the diagnostics cannot say anything."""
    from losswatch.monitor.diagnostics import diagnose
    from losswatch.monitor.store.series import read_series

    key = headline_key(set(names))
    if key is None:
        return None
    s = read_series(conn, run_id=info.id, key=key)
    other = companion_key(key, set(names))
    companion = None
    if other:
        c = read_series(conn, run_id=info.id, key=other)
        companion = (c.steps, c.values)
    report = diagnose(s.steps, s.values, key=key, companion=companion, config=info.config)
    return report.get("summary")


@dataclass
class Batch:
    """What one sync writes: points per key (after a purge, if any), decisions, a diagnosis, new cursors."""

    cursors: dict[str, dict[str, Any]]
    points: dict[str, list[Any]]
    purge_at: int | None
    decisions: list[dict[str, Any]]
    diagnosis: str | None
    last_step: int | None


def _read_batch(conn: Connection, info: RunInfo, state: dict[str, Any], *, fresh: bool) -> Batch:
    cur: dict[str, dict[str, Any]] = dict(state.get("keys") or {})
    names = reading.keys(conn, info.id)
    rewritten = any(
        n not in names or not reading.same(reading.digest(conn, names[n], c["s"]), c["d"]) for n, c in cur.items()
    )
    if rewritten:
        cur = {}
    new = {n: reading.points(conn, kid, after=cur[n]["s"] if n in cur else None)[0] for n, kid in names.items()}
    purge_at = _purge_step(cur, new, rewritten=rewritten, fresh=fresh)
    if purge_at is not None:
        # Purged steps vanish from every tag, so every key is written again from there.
        new = {n: reading.points(conn, kid, after=purge_at - 1)[0] for n, kid in names.items()}
    done = int(state.get("decision", 0))
    decisions = [
        d
        for d in reading.decisions(conn, info.id, after_id=0 if purge_at is not None else done)
        if d["id"] > done or (d["step"] or 0) >= (purge_at or 0)
    ]
    diagnosis = None
    if info.status != "running" and (state.get("diagnosed") != info.version or purge_at is not None):
        try:
            diagnosis = diagnosis_text(conn, info, names)
        except Exception as exc:  # the diagnosis is a courtesy; its failure must not stall the points
            log.warning("mirror: no diagnosis for run %s: %s", info.id, exc)
    for n, pts in new.items():
        if pts:
            cur[n] = {"s": pts[-1].step, "d": reading.digest(conn, names[n], pts[-1].step)}
    last_step = max((c["s"] for c in cur.values()), default=None)
    return Batch(cur, new, purge_at, decisions, diagnosis, last_step)


def _purge_step(
    cur: dict[str, dict[str, Any]], new: dict[str, list[Any]], *, rewritten: bool, fresh: bool
) -> int | None:
    """Where TensorBoard must forget from: 0 after a rewrite, the first step a new writer writes, else nowhere."""
    if rewritten:
        return 0
    if not fresh:
        return None
    starts = [c["s"] + 1 for c in cur.values()] + [p[0].step for n, p in new.items() if p and n not in cur]
    return min(starts) if starts else None


class TensorBoardMirror:
    name = "tensorboard"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.writers: dict[str, events.EventWriter] = {}

    def sync(self, engine: Engine, info: RunInfo, state: dict[str, Any]) -> tuple[dict[str, Any], int | None, bool]:
        with reading.snapshot(engine) as conn:
            batch = _read_batch(conn, info, state, fresh=info.id not in self.writers)
        self._write(info, batch)
        out = {
            "keys": batch.cursors,
            "decision": max([int(state.get("decision", 0))] + [d["id"] for d in batch.decisions]),
        }
        if info.status != "running":
            out["diagnosed"] = info.version
            self.close(info.id)
        elif "diagnosed" in state:
            out["diagnosed"] = state["diagnosed"]
        return out, batch.last_step, True

    def _write(self, info: RunInfo, batch: Batch) -> None:
        writer = self.writers.get(info.id)
        if writer is None:
            writer = self.writers[info.id] = events.EventWriter(run_folder(self.root, info))
        if batch.purge_at is not None:
            writer.add(events.purge(batch.purge_at))
        for n, pts in batch.points.items():
            t = tag(n)
            for p in pts:
                writer.add(events.scalar(t, p.step, p.value, p.wall_time))
        for d in batch.decisions:
            writer.add(events.text(DECISION_TAG, d["step"] or 0, decision_text(d), d["created_at"]))
        if batch.diagnosis and batch.last_step is not None:
            writer.add(events.text(DIAGNOSIS_TAG, batch.last_step, batch.diagnosis))
        writer.sync()

    def close(self, run_id: str) -> None:
        writer = self.writers.pop(run_id, None)
        if writer is not None:
            writer.close()

    def close_all(self) -> None:
        for run_id in list(self.writers):
            try:
                self.close(run_id)
            except OSError as exc:
                log.warning("mirror: closing the TensorBoard file of run %s failed: %s", run_id, exc)
