"""torchrun with two CPU processes (gloo): both ranks stop at the same step, each point is stored once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil

from tests.callbacks.conftest import counts, stored
from tests.conftest import ROOT, free_port

SCRIPT = Path(__file__).with_name("ddp_train.py")


def torchrun(
    url: str, out: Path, mode: str, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", **(env or {})}
    command = [str(Path(sys.executable).with_name("torchrun")), "--nproc_per_node", "2"]
    command += ["--master_port", str(free_port()), str(SCRIPT), url, str(out), mode]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # A hang is what some of these tests catch: the workers go too (they hold the pipes open), not only
        # torchrun, which may leave them behind.
        for p in [*psutil.Process(proc.pid).children(recursive=True), psutil.Process(proc.pid)]:
            p.kill()
        proc.communicate()
        raise
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


def test_torchrun_two_ranks_stop_together_and_store_points_once(live_server, api, tmp_path) -> None:
    r = torchrun(live_server.url, tmp_path, "stop")
    assert r.returncode == 0, r.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank-{i}.json").read_text()) for i in range(2)]
    assert ranks[0]["step"] == ranks[1]["step"] < 300
    assert ranks[0]["stopped_at"] == ranks[1]["stopped_at"] == ranks[0]["step"]
    runs = api.get("/runs", params={"project": "ddp"}).json()["runs"]
    assert [run["id"] for run in runs] == [ranks[0]["run_id"]] and ranks[1]["run_id"] is None
    run_id = ranks[0]["run_id"]
    assert stored(api, run_id, "loss") == {int(s): v for s, v in ranks[0]["losses"].items()}
    assert counts(api, run_id)["loss"] == ranks[0]["step"]
    assert api.get(f"/runs/{run_id}").json()["status"] == "stopped"


def test_torchrun_two_ranks_keep_the_same_best_checkpoint(live_server, tmp_path) -> None:
    # Rank 0 follows the service's best, which moves only on a gain beyond min_delta; the others must follow
    # rank 0, not their own comparison: the Trainer's save is a collective, and ranks that disagree hang in it.
    r = torchrun(live_server.url, tmp_path, "best", timeout=120)  # a hang is what this catches
    assert r.returncode == 0, r.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank-{i}.json").read_text()) for i in range(2)]
    # No evaluation gains 0.5 on the first, the service's best: the run stops after 3 more.
    assert ranks[0]["step"] == ranks[1]["step"] == 20
    assert ranks[0]["best"] is not None and ranks[0]["best"] == ranks[1]["best"]


def test_torchrun_two_ranks_read_the_policy_from_the_environment_alike(live_server, tmp_path) -> None:
    # The monitored key is missing from every evaluation: rank 0 keeps no best, and no other rank may wait for it.
    policy = json.dumps({"monitor": "eval_accuracy", "mode": "max", "rule": "best", "patience": 1000})
    r = torchrun(live_server.url, tmp_path, "env-policy", timeout=120, env={"LOSSWATCH_EARLY_STOPPING": policy})
    assert r.returncode == 0, r.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank-{i}.json").read_text()) for i in range(2)]
    assert ranks[0]["step"] == ranks[1]["step"] == 20
