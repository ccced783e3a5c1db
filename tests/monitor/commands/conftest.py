"""A real server with a run in it, for the CLI commands that read the REST API."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import numpy as np
import pytest

from tests.conftest import LiveServer


@dataclass
class Seeded:
    url: str
    run_id: str
    counts: dict[str, int]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The shared `live_server`, once per module: start-up costs more than the tests themselves."""
    server = LiveServer(tmp_path_factory.mktemp("commands") / "server-data").start()
    yield server
    server.stop()


def seed(url: str, name: str = "qwen-lora") -> Seeded:
    """A run whose validation loss turns up after step 700 (so it stops), with a few non-finite readings."""
    policy = {"monitor": "eval_loss", "patience": 3, "rule": "best", "min_delta": 0.0}
    r = httpx.post(
        f"{url}/api/v1/runs",
        json={"name": name, "project": "cli", "early_stopping": policy, "config": {"eval_steps": 50, "save_steps": 50}},
        timeout=10,
    )
    r.raise_for_status()
    run_id = r.json()["id"]
    rng = np.random.default_rng(7)
    steps = np.arange(1, 1001)
    loss = 2.4 * np.exp(-steps / 250) + 0.55 + rng.normal(0, 0.08, steps.size)
    ev = 2.2 * np.exp(-steps / 250) + 0.8 + 0.00045 * np.maximum(steps - 500, 0)
    points: list[dict] = []
    for i, s in enumerate(steps):
        points.append({"key": "loss", "step": int(s), "value": float(loss[i])})
        points.append({"key": "learning_rate", "step": int(s), "value": 2e-4 * (1 - s / 2000)})
        if s % 50 == 0:
            points.append({"key": "eval_loss", "step": int(s), "value": float(ev[i])})
    odd = [1.0, "NaN", "Infinity", "-Infinity"]
    points += [{"key": "grad_norm", "step": i + 1, "value": v} for i, v in enumerate(odd)]
    httpx.post(f"{url}/api/v1/runs/{run_id}/metrics", json={"points": points}, timeout=60).raise_for_status()
    counts: dict[str, int] = {}
    for p in points:
        counts[p["key"]] = counts.get(p["key"], 0) + 1
    return Seeded(url, run_id, counts)


@pytest.fixture(scope="module")
def seeded(live_server: LiveServer) -> Seeded:
    return seed(live_server.url)
