"""Several workers on PostgreSQL, concurrent writers, and a SIGKILL mid-ingest: every count exact, no 5xx."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer

POINTS = 1500
BATCH = 150


def value(step: int) -> float:
    return 2.0 / (1.0 + step / 300.0)


def send_all(
    url: str,
    run_id: str,
    batches: list[list[dict]],
    errors: list[str],
    tag: str,
    patience: float = 60.0,
    retried: list[str] | None = None,
    acked: list[str] | None = None,
    pace: float = 0.0,
) -> None:
    """A well-behaved client: every batch has an id and is retried until acknowledged. `pace`: seconds
    between batches, as a trainer logs between steps."""
    with httpx.Client(base_url=url, timeout=10) as c:
        for i, batch in enumerate(batches):
            deadline = time.monotonic() + patience
            while True:
                try:
                    r = c.post(f"/api/v1/runs/{run_id}/metrics", json={"points": batch, "batch_id": f"{tag}-{i}"})
                except httpx.TransportError:
                    if retried is not None:
                        retried.append(f"{tag}-{i}")
                    if time.monotonic() > deadline:
                        errors.append(f"{tag}: batch {i} never acknowledged")
                        return
                    time.sleep(0.1)
                    continue
                if r.status_code >= 500:
                    errors.append(f"{tag}: {r.status_code} {r.text[:200]}")
                    return
                break
            if acked is not None:
                acked.append(f"{tag}-{i}")
            time.sleep(pace)


def batches_for(steps: list[int]) -> list[list[dict]]:
    pts = [{"key": "loss", "step": s, "value": value(s)} for s in steps]
    return [pts[i : i + BATCH] for i in range(0, len(pts), BATCH)]


def counts(url: str, run_id: str) -> dict[str, int]:
    keys = httpx.get(f"{url}/api/v1/runs/{run_id}/metrics", timeout=10).json()["keys"]
    return {k["key"]: k["count"] for k in keys}


def test_scale_out_two_workers_on_postgres_concurrent_writers(tmp_path: Path, postgres_url: str) -> None:
    server = LiveServer(tmp_path / "srv", args=["--workers", "2", "--database-url", postgres_url]).start()
    try:
        own = [
            httpx.post(f"{server.url}/api/v1/runs", json={"name": f"w{i}", "project": f"p{i % 3}"}).json()["id"]
            for i in range(6)
        ]
        shared = httpx.post(f"{server.url}/api/v1/runs", json={"name": "shared"}).json()["id"]
        errors: list[str] = []
        steps = list(range(POINTS))
        jobs = [(rid, batches_for(steps), f"own{i}") for i, rid in enumerate(own)]
        # Two writers on one run, overlapping steps, in opposite orders.
        jobs.append((shared, batches_for(steps[: POINTS * 2 // 3]), "shared-a"))
        jobs.append((shared, batches_for(steps[POINTS // 3 :])[::-1], "shared-b"))
        threads = [threading.Thread(target=send_all, args=(server.url, rid, b, errors, tag)) for rid, b, tag in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        for rid in own + [shared]:
            assert counts(server.url, rid) == {"loss": POINTS}, rid
        pts = httpx.get(
            f"{server.url}/api/v1/runs/{shared}/metrics/loss", params={"max_points": 100000, "smoothing_mode": "none"}
        ).json()["points"]
        assert [p["step"] for p in pts] == steps and all(p["value"] == value(p["step"]) for p in pts)
    finally:
        server.stop()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_scale_out_sigkill_mid_ingest_loses_and_doubles_nothing(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    args = [] if backend == "sqlite" else ["--database-url", request.getfixturevalue("postgres_url")]
    server = LiveServer(tmp_path / "srv", args=args).start()
    try:
        runs = [httpx.post(f"{server.url}/api/v1/runs", json={"name": f"k{i}"}).json()["id"] for i in range(4)]
        errors: list[str] = []
        retried: list[str] = []
        acked: list[str] = []
        # Small batches at a trainer's pace (at least 60 x 20 ms per writer), and each kill waits for a few
        # more acknowledged batches: the kills land while the writers are sending however fast ingest is.
        small = [[{"key": "loss", "step": s, "value": value(s)} for s in range(j, j + 10)] for j in range(0, 600, 10)]
        threads = [
            threading.Thread(
                target=send_all,
                args=(server.url, rid, small, errors, f"k{i}"),
                kwargs={"retried": retried, "acked": acked, "pace": 0.02},
            )
            for i, rid in enumerate(runs)
        ]
        for t in threads:
            t.start()
        for _ in range(2):
            seen = len(acked)
            deadline = time.monotonic() + 60
            while len(acked) < seen + 8 and time.monotonic() < deadline:
                time.sleep(0.005)
            server.stop(kill=True)
            time.sleep(0.3)
            server.start()
        alive_at_kill = [t.is_alive() for t in threads]
        for t in threads:
            t.join()
        assert errors == []
        assert any(alive_at_kill) and retried, "the kills must land while batches are in flight"
        for rid in runs:
            assert counts(server.url, rid) == {"loss": 600}
    finally:
        server.stop()
