"""`losswatch watch`: a growing output folder is one run across watcher restarts, ended when the log
says so; a stop reaches the writer only where that is graceful, and is otherwise only said."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from losswatch.monitor.cli import app
from tests.conftest import ROOT

WRITER = Path(__file__).with_name("log_writer.py")
LAUNCHER = Path(__file__).with_name("launcher.py")
POLICY = json.dumps({"patience": 2, "min_steps": 0})
NEVER = json.dumps({"rule": "best", "patience": 1000})


@pytest.fixture
def api(live_server):
    with httpx.Client(base_url=live_server.url + "/api/v1", timeout=30) as c:
        yield c


def watch(url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "losswatch", "watch", "--url", url, "--interval", "0.2", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def writer(out: Path, total: int, pace: float, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(out), str(total), str(pace)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_growing_log_is_one_run_across_watcher_restarts_and_ends_finished(live_server, api, tmp_path) -> None:
    out = tmp_path / "out"
    training = writer(out, 150, 0.1)
    first = watch(live_server.url, str(out), "--project", "grow", "--early-stopping", json.dumps({"patience": 1000}))

    def followed() -> bool:
        runs = api.get("/runs", params={"project": "grow"}).json()["runs"]
        return bool(runs) and any(k["count"] >= 10 for k in api.get(f"/runs/{runs[0]['id']}").json()["keys"])

    wait_for(followed)
    first.send_signal(signal.SIGINT)
    first.wait(timeout=60)
    (run,) = api.get("/runs", params={"project": "grow"}).json()["runs"]
    assert run["status"] == "running"
    assert training.poll() is None, "the watcher must restart while the log still grows"

    second = watch(live_server.url, str(out), "--project", "grow", "--pid", str(training.pid))
    assert training.wait(timeout=120) == 0
    output, _ = second.communicate(timeout=120)
    assert second.returncode == 0, output
    runs = api.get("/runs", params={"project": "grow"}).json()["runs"]
    assert [r["id"] for r in runs] == [run["id"]]
    detail = api.get(f"/runs/{run['id']}").json()
    assert detail["status"] == "finished"
    assert {k["key"]: k["count"] for k in detail["keys"]} == {"loss": 150, "eval_loss": 30}
    assert detail["config"]["max_steps"] == 150
    assert detail["early_stopping"]["patience"] == 1000  # the first watcher's policy stays the run's


def test_a_web_ui_run_is_stopped_gracefully(live_server, api, tmp_path) -> None:
    out = tmp_path / "out"
    training = writer(out, 400, 0.05, LLAMABOARD_ENABLED="1")
    watcher = watch(live_server.url, str(out), "--pid", str(training.pid), "--early-stopping", POLICY)
    assert training.wait(timeout=180) == 0  # saved and exited on its own terms
    output, _ = watcher.communicate(timeout=60)
    assert "Sent SIGABRT" in output, output
    (run,) = api.get("/runs").json()["runs"]
    detail = api.get(f"/runs/{run['id']}").json()
    stop = detail["decision"]["step"]
    assert detail["status"] == "stopped" and detail["decision"]["should_stop"]
    # The writer's validation loss is a noise-free U with its best at step 20, evaluated every 5 steps: patience 2
    # stops it two evaluations later, at 30, as transformers' patience 2 does.
    assert stop == 30 and detail["decision"]["best_step"] == 20
    saved = json.loads((out / "trainer_state.json").read_text())["global_step"]
    assert stop <= saved < 400


def test_a_web_ui_run_under_a_launcher_is_stopped_gracefully(live_server, api, tmp_path) -> None:
    # The web UI on a machine with more than one device launches through torchrun: the training process is
    # the launcher's grandchild. A SIGABRT to the launcher alone killed it and orphaned the training, which
    # went on to its last step while the watcher reported the run stopped.
    out = tmp_path / "out"
    training = subprocess.Popen(
        [sys.executable, str(LAUNCHER), str(out), "400", "0.05"], env={**os.environ, "LLAMABOARD_ENABLED": "1"}
    )
    watcher = watch(live_server.url, str(out), "--pid", str(training.pid), "--early-stopping", POLICY)
    output, _ = watcher.communicate(timeout=180)
    assert watcher.returncode == 0 and "Sent SIGABRT" in output, output
    # The watcher ended once the training itself had saved and exited, not when its launcher died.
    saved = json.loads((out / "trainer_state.json").read_text())["global_step"]
    (run,) = api.get("/runs").json()["runs"]
    detail = api.get(f"/runs/{run['id']}").json()
    assert detail["status"] == "stopped" and detail["decision"]["step"] <= saved < 400
    assert f"stopped at step {saved}" in output, output


def test_watch_rides_out_a_service_restart(live_server, api, tmp_path) -> None:
    # A watcher follows runs for hours; it gave up for good the first time the service did not answer.
    out = tmp_path / "out"
    training = writer(out, 120, 0.05)
    watcher = watch(live_server.url, str(out), "--pid", str(training.pid), "--early-stopping", NEVER)
    wait_for(lambda: bool(api.get("/runs").json()["runs"]))
    live_server.stop()
    time.sleep(1.5)
    live_server.start()
    assert training.wait(timeout=120) == 0
    output, _ = watcher.communicate(timeout=120)
    assert watcher.returncode == 0, output
    assert output.count("does not answer") == 1 and output.count("answers again") == 1, output
    (run,) = api.get("/runs").json()["runs"]
    detail = api.get(f"/runs/{run['id']}").json()
    assert detail["status"] == "finished"
    assert {k["key"]: k["count"] for k in detail["keys"]} == {"loss": 120, "eval_loss": 24}


def test_any_other_run_is_told_and_never_killed(live_server, api, tmp_path) -> None:
    out = tmp_path / "out"
    training = writer(out, 400, 0.05)  # no LLAMABOARD_ENABLED: SIGABRT would kill it
    watcher = watch(live_server.url, str(out), "--pid", str(training.pid), "--early-stopping", POLICY)

    def stopped() -> bool:
        runs = api.get("/runs").json()["runs"]
        return bool(runs) and api.get(f"/runs/{runs[0]['id']}/decision").json()["should_stop"]

    wait_for(stopped)
    time.sleep(1.0)
    assert training.poll() is None  # still training
    training.send_signal(signal.SIGTERM)  # the person does what they were told
    training.wait(timeout=30)
    output, _ = watcher.communicate(timeout=60)
    assert "losswatch does not stop it" in output and "SIGABRT" not in output, output
    (run,) = api.get("/runs").json()["runs"]
    assert api.get(f"/runs/{run['id']}").json()["status"] == "stopped"


def test_watch_says_once_what_it_waits_for(live_server, tmp_path) -> None:
    # A watcher pointed at a folder with no log yet (or the wrong folder) once sat silent until killed.
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = watch(live_server.url, str(empty), str(tmp_path / "not-yet"))
    try:
        time.sleep(4.0)  # start-up, then a dozen polls: what is waited for is said once, not at every poll
        proc.send_signal(signal.SIGINT)
        out = proc.communicate(timeout=30)[0]
    finally:
        proc.kill()
    lines = out.splitlines()
    assert lines[:2] == [
        f"{empty}: waiting for a training log (nothing to import in this folder; losswatch reads a HF "
        "trainer_state.json, a LLaMA-Factory trainer_log.jsonl, TensorBoard event files (events.out.tfevents.*) "
        "or a folder holding one of them)",
        f"{tmp_path / 'not-yet'}: waiting for a training log (no such file or directory)",
    ]
    assert sum("waiting" in line for line in lines) == 2 and "Traceback" not in out


@pytest.mark.parametrize("pid", ["0", "-1"])
def test_watch_refuses_a_pid_that_names_no_single_process(tmp_path: Path, pid: str) -> None:
    # os.kill(0 or -1, 0) succeeds (a process group, every process): such a watch would never end on its pid.
    result = CliRunner().invoke(app, ["watch", str(tmp_path), "--pid", pid, "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 2 and "--pid" in result.output, result.output
