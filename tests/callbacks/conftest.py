"""Helpers for the trainer-plugin tests: a REST client on the live server, the stored and logged series."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator

import httpx
import pytest
from transformers import TrainerCallback

from tests.conftest import ROOT

# The classic rule with a patience no test run reaches: these tests are about delivery, not judgement.
NEVER_STOP = {"rule": "best", "patience": 10000}


@pytest.fixture
def api(live_server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url + "/api/v1", timeout=30) as c:
        yield c


def stored(api: httpx.Client, run_id: str | None, key: str) -> dict[int, float]:
    assert run_id, "the callback never created its run"
    r = api.get(f"/runs/{run_id}/metrics/{key}", params={"smoothing_mode": "none", "max_points": 100000})
    r.raise_for_status()
    return {p["step"]: p["value"] for p in r.json()["points"]}


def counts(api: httpx.Client, run_id: str | None) -> dict[str, int]:
    assert run_id, "the callback never created its run"
    return {k["key"]: k["count"] for k in api.get(f"/runs/{run_id}/metrics").json()["keys"]}


def logged(log_history: list[dict], key: str) -> dict[int, float]:
    return {h["step"]: h[key] for h in log_history if key in h}


class AtStep(TrainerCallback):
    """Runs `actions[step]()` at the end of that step: a way to change the world mid-training."""

    def __init__(self, actions: dict[int, Callable[[], None]], every: Callable[[int], None] | None = None) -> None:
        self.actions, self.every = actions, every

    def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        if self.every is not None:
            self.every(state.global_step)
        action = self.actions.get(state.global_step)
        if action is not None:
            action()


def losswatch_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "losswatch", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
