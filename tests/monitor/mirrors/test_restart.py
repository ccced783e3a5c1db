from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import LiveServer

from . import wandb_records
from .conftest import curve
from .tb_reader import run_folders
from .test_tensorboard import assert_mirrored


def post(url: str, rid: str, rows: list[tuple[str, int, float]]) -> None:
    for i in range(0, len(rows), 500):
        body = {"points": [{"key": k, "step": s, "value": v} for k, s, v in rows[i : i + 500]]}
        httpx.post(f"{url}/api/v1/runs/{rid}/metrics", json=body, timeout=30).raise_for_status()


def mirror_state(url: str, rid: str) -> dict[str, dict]:
    return {m["target"]: m for m in httpx.get(f"{url}/api/v1/runs/{rid}", timeout=10).json()["mirror_state"]}


def wait_for(check, timeout: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_mirror_resumes_from_its_cursor_after_a_kill(tmp_path: Path, wandb_offline: Path) -> None:
    data = tmp_path / "server-data"
    server = LiveServer(
        data, env={"LOSSWATCH_MIRROR_POLL_SECONDS": "0.1", "WANDB_DIR": str(wandb_offline), "WANDB_MODE": "offline"}
    ).start()
    rows = curve(1200)
    try:
        rid = httpx.post(
            f"{server.url}/api/v1/runs", json={"name": "restarted", "project": "p", "mirrors": ["tensorboard", "wandb"]}
        ).json()["id"]
        post(server.url, rid, rows[:1200])
        assert wait_for(lambda: (mirror_state(server.url, rid)["tensorboard"]["last_step"] or 0) > 0)
        post(server.url, rid, rows[1200:1800])
        server.stop(kill=True)  # mid-mirror: points past the cursors, a W&B run open, leases held

        server.start()
        post(server.url, rid, rows[1800:])
        httpx.patch(f"{server.url}/api/v1/runs/{rid}", json={"status": "finished"}).raise_for_status()
        assert wait_for(lambda: all(m["in_sync"] for m in mirror_state(server.url, rid).values()))
        state = mirror_state(server.url, rid)
    finally:
        server.stop()
    assert {t: (m["last_step"], m["lag"], m["last_error"]) for t, m in state.items()} == {
        "tensorboard": (1200, 0, None),
        "wandb": (1200, 0, None),
    }
    [folder] = run_folders(data / "tensorboard")
    assert_mirrored(folder, rows)
    newest = wandb_records.run_files(wandb_offline, rid)[-1]
    assert set(wandb_records.history(wandb_offline, rid, [newest])) == set(range(1, 1201))


HOLDER = """
import sys, time, wandb
run = wandb.init(id=sys.argv[1], project="p", mode="offline", dir=sys.argv[2])
import os
print(os.environ["WANDB_SERVICE"], flush=True)  # the service this process started, holding the run open
time.sleep(600)
"""


def test_mirror_uses_a_wandb_service_of_its_own(tmp_path: Path, wandb_offline: Path) -> None:
    # A server started with WANDB_SERVICE in its environment (from a process that used wandb: a test session,
    # a supervisor, the server it replaces) joined that service, where a run with its id could still be "in
    # use" (a killed predecessor's): CI saw a restarted server mirror nothing to W&B for 90 s.
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, "held-run", str(wandb_offline)], stdout=subprocess.PIPE, text=True
    )
    try:
        service = holder.stdout.readline().strip() if holder.stdout else ""
        assert service, "the holder's wandb service did not start"
        env = {"WANDB_SERVICE": service, "WANDB_DIR": str(wandb_offline), "WANDB_MODE": "offline"}
        server = LiveServer(tmp_path / "server-data", env={**env, "LOSSWATCH_MIRROR_POLL_SECONDS": "0.1"}).start()
        try:
            httpx.post(f"{server.url}/api/v1/runs", json={"id": "held-run", "name": "r", "mirrors": ["wandb"]})
            post(server.url, "held-run", curve(30))
            httpx.patch(f"{server.url}/api/v1/runs/held-run", json={"status": "finished"}).raise_for_status()
            assert wait_for(lambda: mirror_state(server.url, "held-run")["wandb"]["in_sync"], timeout=60)
            assert mirror_state(server.url, "held-run")["wandb"]["last_error"] is None
        finally:
            server.stop()
    finally:
        holder.kill()
