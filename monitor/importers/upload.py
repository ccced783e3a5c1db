"""Send an imported log to a losswatch service through its REST API (the contract of DESIGN.md)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
from tqdm import tqdm

from losswatch.monitor.vocabulary import spell

from .base import ImportedLog, Point
from .errors import UploadError

_COUNTS = ("accepted", "duplicates", "overwritten")


def run_id_for(log: ImportedLog, project: str) -> str:
    """A run id that only the log's content and the project decide, so a re-import finds the same run."""
    content = log.fingerprint or _points_digest(log.points)
    return "imp-" + hashlib.sha256(f"{project}\n{content}".encode()).hexdigest()[:24]


def upload(
    log: ImportedLog,
    *,
    client: httpx.Client,
    project: str = "default",
    name: str | None = None,
    batch_size: int = 5000,
    progress: bool = True,
) -> dict:
    """Create (or find) the run, then send its points in batches sorted by step.

    Batch ids are stable too: re-sending the same file changes nothing on the server, and an
    import interrupted halfway is finished by running it again.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    run_id = run_id_for(log, project)
    run = {"id": run_id, "project": project, "name": name or log.name, "config": log.config}
    _post(client, "/api/v1/runs", run, f"creating run {run_id}")

    points = sorted(log.points, key=lambda p: (p.step, p.key))
    totals: dict[str, Any] = {"run_id": run_id, "points": len(points), **dict.fromkeys(_COUNTS, 0)}
    with tqdm(total=len(points), unit="pt", desc=f"uploading {run['name']}", disable=not progress) as bar:
        for index, start in enumerate(range(0, len(points), batch_size)):
            batch = points[start : start + batch_size]
            body = {"points": [_wire(p) for p in batch], "batch_id": f"{run_id}-{batch_size}-{index}"}
            url = f"/api/v1/runs/{run_id}/metrics"
            answer = _post(client, url, body, f"sending batch {index} of run {run_id}")
            for count in _COUNTS:
                totals[count] += int(answer.get(count, 0))
            bar.update(len(batch))
    return totals


def _wire(point: Point) -> dict:
    body: dict = {"key": point.key, "step": point.step, "value": spell(point.value)}
    if point.time is not None:
        body["time"] = point.time
    return body


def _points_digest(points: list[Point]) -> str:
    # For logs built in memory (no source bytes): the same points give the same digest.
    canon = sorted((p.key, p.step, repr(p.value)) for p in points)
    return hashlib.sha256(json.dumps(canon).encode()).hexdigest()


def _post(client: httpx.Client, url: str, body: dict, action: str) -> dict:
    try:
        response = client.post(url, json=body)
    except httpx.HTTPError as exc:
        raise UploadError(action, f"cannot reach the losswatch service: {exc}") from exc
    if response.status_code not in (200, 201):
        raise UploadError(action, _detail(response), response.status_code)
    try:
        return response.json()
    except ValueError as exc:
        not_json = f"the answer is not JSON: {response.text[:200]!r}"
        raise UploadError(action, not_json, response.status_code) from exc


def _detail(response: httpx.Response) -> object:
    try:
        return response.json()["detail"]
    except (ValueError, KeyError, TypeError):
        return response.text[:500] or response.reason_phrase
