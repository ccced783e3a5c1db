"""LLaMA-Factory with zero lines of code: its CLI under `losswatch run`, and a web-UI run followed by
`losswatch watch --pid`. Both are seen live, stopped early and left with the best weights."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import ROOT
from tests.llamafactory.conftest import MAX_STEPS, lf_env, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
POLICY = json.dumps({"patience": 3})


@pytest.fixture
def api(live_server):
    with httpx.Client(base_url=live_server.url + "/api/v1", timeout=30) as c:
        yield c


def the_run(api: httpx.Client, project: str) -> dict | None:
    runs = api.get("/runs", params={"project": project}).json()["runs"]
    return api.get(f"/runs/{runs[0]['id']}").json() if runs else None


def logged(out: Path, key: str) -> dict[int, float]:
    rows = [json.loads(line) for line in (out / "trainer_log.jsonl").read_text().splitlines() if line.strip()]
    return {r["current_steps"]: r[key] for r in rows if key in r}


def same_weights(a: Path, b: Path) -> bool:
    x, y = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


def report(what: str, **numbers: object) -> None:
    # The closing note quotes these (`pytest -s`); nothing is asserted on time.
    print(f"\n[{what}] " + ", ".join(f"{k}={v}" for k, v in numbers.items()), file=sys.stderr)


def test_cli_under_run_is_seen_live_stopped_early_and_keeps_the_best_weights(
    live_server, api, llamafactory, lf_config, tmp_path
) -> None:
    out = tmp_path / "cli-out"
    command = [str(llamafactory / "llamafactory-cli"), "train", str(lf_config(out))]
    args = ["--url", live_server.url, "--project", "lf-cli", "--early-stopping", POLICY]
    env = {**lf_env(), "PYTHONPATH": str(ROOT)}  # this checkout's losswatch for `losswatch run` itself
    proc = subprocess.Popen(
        [sys.executable, "-m", "losswatch", "run", *args, "--", *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def live() -> bool:
        run = the_run(api, "lf-cli")
        return bool(run and any(k["key"] == "loss" and k["count"] >= 5 for k in run["keys"]))

    wait_for(live)
    assert proc.poll() is None, "seen while training, not after"
    assert the_run(api, "lf-cli")["status"] == "running"  # type: ignore[index]
    decided = wait_for(lambda: (the_run(api, "lf-cli") or {}).get("decision", {}).get("should_stop"))
    output, _ = proc.communicate(timeout=900)
    exited = time.monotonic()
    assert proc.returncode == 0, output[-4000:]

    run = the_run(api, "lf-cli")
    assert run is not None and run["status"] == "stopped"
    evals = logged(out, "eval_loss")
    best = min(evals, key=evals.__getitem__)
    stop = max(logged(out, "loss"))
    assert run["decision"]["step"] == stop and best < stop < MAX_STEPS
    assert run["decision"]["best_step"] == best
    best_dir = out / f"checkpoint-{best}"
    assert run["best_checkpoint"] == {"step": best, "path": str(best_dir)}
    # What LLaMA-Factory saved as the trained model is the best evaluation's weights.
    assert best_dir.is_dir() and same_weights(out, best_dir)
    assert {k["key"]: k["count"] for k in run["keys"]}["eval_loss"] == len(evals)
    report(
        "llamafactory-cli under losswatch run",
        stop_step=stop,
        best_step=best,
        max_steps=MAX_STEPS,
        decision_to_exit_s=round(exited - decided, 2),
    )


def test_web_ui_run_followed_by_watch_is_stopped_gracefully_and_restarts_double_nothing(
    live_server, api, llamafactory, lf_config, tmp_path
) -> None:
    out = tmp_path / "webui-out"
    # As the web UI launches it: the arguments saved as <output_dir>/training_args.yaml, and
    # LLAMABOARD_ENABLED, which makes LLaMA-Factory finish its step, save and exit on SIGABRT.
    out.mkdir()
    config = out / "training_args.yaml"
    config.write_text(lf_config(out).read_text())
    training = subprocess.Popen(
        [str(llamafactory / "llamafactory-cli"), "train", str(config)],
        env=lf_env(LLAMABOARD_ENABLED="1", LLAMABOARD_WORKDIR=str(out)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )

    def watch() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "losswatch",
                "watch",
                str(out),
                "--pid",
                str(training.pid),
                "--url",
                live_server.url,
                "--project",
                "lf-webui",
                "--early-stopping",
                POLICY,
                "--interval",
                "0.5",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    first = watch()
    wait_for(lambda: (run := the_run(api, "lf-webui")) and any(k["count"] >= 3 for k in run["keys"]))
    first.send_signal(signal.SIGINT)  # the watcher restarts while the run goes on
    first.communicate(timeout=60)
    assert training.poll() is None
    second = watch()
    decided = wait_for(lambda: (the_run(api, "lf-webui") or {}).get("decision", {}).get("should_stop"))
    assert training.wait(timeout=900) == 0  # saved and exited on its own terms
    exited = time.monotonic()
    output, _ = second.communicate(timeout=120)
    assert second.returncode == 0 and "Sent SIGABRT" in output, output

    runs = api.get("/runs", params={"project": "lf-webui"}).json()["runs"]
    assert len(runs) == 1
    run = api.get(f"/runs/{runs[0]['id']}").json()
    losses, evals = logged(out, "loss"), logged(out, "eval_loss")
    assert run["status"] == "stopped"
    counts = {k["key"]: k["count"] for k in run["keys"]}
    assert counts["loss"] == len(losses) and counts["eval_loss"] == len(evals)  # nothing doubled
    stored = api.get(f"/runs/{run['id']}/metrics/loss", params={"smoothing_mode": "none", "max_points": 10**5})
    assert {p["step"]: p["value"] for p in stored.json()["points"]} == losses
    decision_step, stop = run["decision"]["step"], max(losses)
    assert decision_step <= stop < MAX_STEPS
    assert run["config"]["eval_steps"] == 10 and run["config"]["max_steps"] == MAX_STEPS
    report(
        "web UI + losswatch watch --pid",
        decision_step=decision_step,
        stop_step=stop,
        max_steps=MAX_STEPS,
        decision_to_exit_s=round(exited - decided, 2),
    )
