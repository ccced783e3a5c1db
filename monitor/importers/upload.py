"""Send an imported log to a losswatch service through its REST API (the contract of DESIGN.md)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
from tqdm import tqdm

from losswatch.monitor.columnar import SeriesBuffer
from losswatch.monitor.restclient import detail
from losswatch.monitor.vocabulary import spell

from .base import ImportedLog, Point
from .errors import UploadError

_COUNTS = ("accepted", "duplicates", "overwritten")
# What has reached the service, per (key, step): a follower sends only what changed since.
Sent = dict[tuple[str, int], float]


def run_id_for(log: ImportedLog, project: str) -> str:
    """A run id that only the log's source and the project decide, so a re-import finds the same run:
    an output folder's identity, else the file's content."""
    content = log.identity or log.fingerprint or _points_digest(log.points)
    # surrogatepass: a path of bytes that are not UTF-8 (or a log with a lone surrogate) still names one run.
    return "imp-" + hashlib.sha256(f"{project}\n{content}".encode("utf-8", "surrogatepass")).hexdigest()[:24]


def upload(
    log: ImportedLog,
    *,
    client: httpx.Client,
    project: str = "default",
    name: str | None = None,
    batch_size: int = 5000,
    progress: bool = True,
    early_stopping: dict[str, Any] | None = None,
    sent: Sent | None = None,
    end: bool = True,
) -> dict:
    """Find (or create) the run, then send its points in batches sorted by step.

    Batch ids follow the batch's content: re-sending a log, or the part of a growing log already
    sent, changes nothing on the server, and an import interrupted halfway is finished by running it
    again. With `sent`, only points not in it (or changed) go, and it is updated. With `end`, a log
    whose training is over ends the run as `finished` or `stopped`. The totals carry the last
    `decision` the service gave (None when nothing was sent).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    run_id = run_id_for(log, project)
    run: dict[str, Any] = {"id": run_id, "project": project, "name": name or log.name, "config": log.config}
    if early_stopping is not None:
        run["early_stopping"] = early_stopping
    ensure_run(client, run)
    _rewind(client, run_id, log.rewinds, sent)
    # After a resume the same points may come again (a deterministic run, 4-digit logs): their batch is new
    # to the service, whose ledger still holds the abandoned branch's ids. Logs without one keep their ids.
    epoch = f"r{len(log.rewinds)}-" if log.rewinds else ""

    points = sorted(log.points, key=lambda p: (p.step, p.key))
    if sent is not None:
        points = [p for p in points if not _same(sent.get((p.key, p.step)), p.value)]
    totals: dict[str, Any] = {"run_id": run_id, "points": len(points), **dict.fromkeys(_COUNTS, 0), "decision": None}
    with tqdm(total=len(points), unit="pt", desc=f"uploading {run['name']}", disable=not progress) as bar:
        for index, start in enumerate(range(0, len(points), batch_size)):
            batch = points[start : start + batch_size]
            for answer in _send_batch(client, run_id, batch, f"sending batch {index} of run {run_id}", epoch):
                for count in _COUNTS:
                    totals[count] += int(answer.get(count, 0))
                totals["decision"] = answer.get("decision")
            if sent is not None:
                sent.update(((p.key, p.step), p.value) for p in batch)
            bar.update(len(batch))
    if end and log.status:
        _send(client, "PATCH", f"/api/v1/runs/{run_id}", {"status": log.status}, f"ending run {run_id}")
    totals["status"] = log.status
    return totals


# In `sent`, how many of the log's rewinds this follower has told the service of (no point has a blank key).
REWINDS_TOLD = ("", -1)


def _rewind(client: httpx.Client, run_id: str, rewinds: list[int], sent: Sent | None) -> None:
    """Tell the service of each resume the log holds, before the points after it: what the abandoned branch
    left there (an earlier import or watch of the log while it grew) is forgotten. Ids follow the log, so
    reading it again replays them as no-ops, which cannot delete the resumed branch's points."""
    told = int(sent.get(REWINDS_TOLD, 0)) if sent is not None else 0
    for i, step in enumerate(rewinds):
        body = {"step": step, "rewind_id": f"{run_id}-rewind-{i}-{step}"}
        _send(client, "POST", f"/api/v1/runs/{run_id}/rewind", body, f"rewinding run {run_id} to {step}")
        if sent is not None and i >= told:
            # Deleted there (by this request, or by one whose answer was lost): a point of the resumed branch
            # with the same value as the abandoned one goes again.
            for key_step in [ks for ks in sent if ks[1] > step]:
                del sent[key_step]
            sent[REWINDS_TOLD] = i + 1


def _send_batch(client: httpx.Client, run_id: str, batch: list[Point], action: str, epoch: str = "") -> list[dict]:
    """The service's answers for `batch` (points sorted by step). A batch it finds too much to judge or take
    at once (413: a long log's evaluations under a costly policy) goes again in two halves, earlier steps
    first, down to single points if need be."""
    # Columnar on the wire; the batch id digests the row form, so ids match earlier imports of the log.
    wire = [_wire(p) for p in batch]
    body = {"series": _series(batch), "batch_id": f"{run_id}-{epoch}{_digest(wire)}"}
    try:
        return [_send(client, "POST", f"/api/v1/runs/{run_id}/metrics", body, action)]
    except UploadError as exc:
        if exc.status != 413 or len(batch) < 2:
            raise
    half = len(batch) // 2
    return _send_batch(client, run_id, batch[:half], action, epoch) + _send_batch(
        client, run_id, batch[half:], action, epoch
    )


def ensure_run(client: httpx.Client, run: dict[str, Any]) -> dict:
    """The run, created when missing. An existing run is left as it is: creating it again would
    count as a resume and clear a person's stop."""
    try:
        response = client.get(f"/api/v1/runs/{run['id']}")
    except httpx.HTTPError as exc:
        raise UploadError(f"looking up run {run['id']}", f"cannot reach the losswatch service: {exc}") from exc
    if response.status_code == 200:
        return response.json()
    return _send(client, "POST", "/api/v1/runs", run, f"creating run {run['id']}")


def _same(old: float | None, new: float) -> bool:
    return old is not None and (old == new or (old != old and new != new))


def _wire(point: Point) -> dict:
    body: dict = {"key": point.key, "step": point.step, "value": spell(point.value)}
    if point.time is not None:
        body["time"] = point.time
    return body


def _series(batch: list[Point]) -> list[dict]:
    # The columnar form: the same points (and so the same batch ids) as one object per point would be.
    buf = SeriesBuffer()
    for p in batch:
        buf.add(p.key, p.step, p.value, p.time)
    return buf.series()


def _digest(wire: list[dict]) -> str:
    return hashlib.sha256(json.dumps(wire, sort_keys=True).encode()).hexdigest()[:24]


def _points_digest(points: list[Point]) -> str:
    # For logs built in memory (no source bytes): the same points give the same digest.
    canon = sorted((p.key, p.step, repr(p.value)) for p in points)
    return hashlib.sha256(json.dumps(canon).encode()).hexdigest()


def _send(client: httpx.Client, method: str, url: str, body: dict, action: str) -> dict:
    # Encoded here rather than by httpx: a log may hold a lone UTF-16 surrogate ("\\ud800" in its JSON), which
    # no UTF-8 body can carry; it goes as "?" instead of failing the whole import.
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8", "replace")
    try:
        response = client.request(method, url, content=content, headers={"Content-Type": "application/json"})
    except httpx.HTTPError as exc:
        raise UploadError(action, f"cannot reach the losswatch service: {exc}") from exc
    if response.status_code not in (200, 201):
        raise UploadError(action, detail(response), response.status_code)
    try:
        return response.json()
    except ValueError as exc:
        not_json = f"the answer is not JSON: {response.text[:200]!r}"
        raise UploadError(action, not_json, response.status_code) from exc
