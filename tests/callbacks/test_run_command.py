"""`losswatch run -- CMD`: a script that never imports losswatch is followed, stopped early and left
with its best weights; the hook stays light and never breaks the program."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from losswatch.monitor.commands.run import child_env
from tests.conftest import ROOT

POLICY = json.dumps({"patience": 3, "compat": "hf"})


def losswatch_run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "losswatch", "run", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


def test_a_plain_script_under_run_is_stopped_early_with_its_best_weights(live_server, api, tmp_path) -> None:
    script = ROOT / "tests" / "callbacks" / "plain_train.py"
    args = ["--url", live_server.url, "--project", "zero", "--name", "plain", "--early-stopping", POLICY]
    done = losswatch_run(*args, "--", sys.executable, str(script), str(tmp_path), "200")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert "LossWatchCallback" in result["callbacks"]
    evals = {int(k): v for k, v in result["evals"].items()}
    best = min(evals, key=evals.__getitem__)
    assert best < result["step"] < 200
    assert abs(result["final_eval_loss"] - evals[best]) < 1e-5  # the best weights were loaded at the end

    (run,) = api.get("/runs", params={"project": "zero"}).json()["runs"]
    detail = api.get(f"/runs/{run['id']}").json()
    assert run["name"] == "plain" and run["status"] == "stopped"
    assert detail["decision"]["should_stop"] and detail["decision"]["step"] == result["step"]
    assert detail["best_checkpoint"] == {"step": best, "path": str(tmp_path / "train" / f"checkpoint-{best}")}


def test_run_exits_with_the_command_exit_code(tmp_path) -> None:
    done = losswatch_run("--", sys.executable, "-c", "import sys; sys.exit(3)")
    assert done.returncode == 3
    assert losswatch_run("--", "no-such-command-here").returncode == 127
    bad = losswatch_run("--early-stopping", "{patience: 3}", "--", sys.executable, "-c", "pass")
    assert bad.returncode == 2 and "not valid JSON" in bad.stderr


def hooked(code: str, tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = child_env(
        {**os.environ, **extra},
        url="http://127.0.0.1:9",
        project="p",
        name=None,
        early_stopping=None,
        token=None,
        keep_best=True,
    )
    env.update({k: v for k, v in extra.items() if k != "PYTHONPATH"})  # the hook stays first on the path
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=120
    )


def test_the_hook_imports_nothing_heavy_until_transformers(tmp_path) -> None:
    done = hooked(
        """
        import sys
        heavy = ("torch", "transformers", "httpx", "numpy", "sqlalchemy", "fastapi", "pydantic")
        print(sorted(m for m in sys.modules if m.split(".")[0] in heavy))
        print(sorted(m for m in sys.modules if m.startswith("losswatch")))
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    heavy, mine = done.stdout.splitlines()
    assert heavy == "[]"
    assert mine == "['losswatch', 'losswatch.callbacks', 'losswatch.callbacks.autoattach']"


def test_a_broken_hook_only_warns_and_the_environment_sitecustomize_still_runs(tmp_path) -> None:
    own = tmp_path / "own"
    own.mkdir()
    (own / "sitecustomize.py").write_text("import builtins\nbuiltins.OWN_SITECUSTOMIZE = True\n")
    done = hooked(
        """
        import builtins
        print("program ran", getattr(builtins, "OWN_SITECUSTOMIZE", False))
        """,
        tmp_path,
        LOSSWATCH_PACKAGE_DIR=str(tmp_path / "nowhere"),
    )
    assert done.returncode == 0
    assert done.stdout.strip() == "program ran False"
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("losswatch: not attached")

    env_path = {"PYTHONPATH": os.pathsep.join([str(own), os.environ.get("PYTHONPATH", "")])}
    chained = hooked("import builtins; print(getattr(builtins, 'OWN_SITECUSTOMIZE', False))", tmp_path, **env_path)
    assert chained.returncode == 0 and chained.stdout.strip() == "True", chained.stderr
