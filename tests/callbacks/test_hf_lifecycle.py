"""How a run ends, as the callback and the client report it: finished, stopped or failed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from losswatch.callbacks import LossWatchCallback, LossWatchClient
from tests.callbacks.conftest import NEVER_STOP, AtStep
from tests.conftest import ROOT
from tests.tiny import overfitting_trainer


def test_a_run_that_reaches_its_last_step_is_finished(live_server, api, tmp_path) -> None:
    lw = LossWatchCallback(url=live_server.url, run_name="full", early_stopping=NEVER_STOP)
    overfitting_trainer(str(tmp_path / "out"), [lw], max_steps=12).train()
    run = api.get(f"/runs/{lw.run_id}").json()
    assert run["status"] == "finished" and run["ended_at"] is not None


CRASHING = """
import sys
from transformers import TrainerCallback
from losswatch.callbacks import LossWatchCallback
from tests.tiny import overfitting_trainer

class Boom(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 4:
            raise {error}("boom")

lw = LossWatchCallback(url=sys.argv[1], run_name="crash", early_stopping={{"rule": "best", "patience": 10000}})
print(lw.__class__.__name__, flush=True)
trainer = overfitting_trainer(sys.argv[2], [lw, Boom()], max_steps=50)
try:
    trainer.train()
finally:
    print("RUN", lw.run_id, flush=True)
"""


@pytest.mark.parametrize(("error", "status"), [("RuntimeError", "failed"), ("KeyboardInterrupt", "stopped")])
def test_a_process_that_leaves_mid_training_reports_how(live_server, api, tmp_path, error, status) -> None:
    script = tmp_path / "crash.py"
    script.write_text(textwrap.dedent(CRASHING.format(error=error)))
    done = subprocess.run(
        [sys.executable, str(script), live_server.url, str(tmp_path / "out")],
        cwd=ROOT,
        # the script imports tests.tiny: the checkout goes on its path (the editable install maps losswatch only)
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    runs = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("RUN ")]
    assert runs, done.stderr[-3000:]
    run_id = runs[0]
    assert api.get(f"/runs/{run_id}").json()["status"] == status


@pytest.mark.parametrize(("fail", "status"), [(False, "finished"), (True, "failed")], ids=["clean", "exception"])
def test_client_close_ends_the_run(live_server, api, tmp_path, fail, status) -> None:
    def loop() -> str:
        with LossWatchClient(live_server.url, run_name="loop", spool_dir=tmp_path / "spool") as client:
            for step in range(1, 4):
                client.log(step, {"loss": 1.0 / step})
            if fail:
                raise ValueError("the loop broke")
            return client.run_id

    if fail:
        with pytest.raises(ValueError):
            loop()
        run_id = api.get("/runs").json()["runs"][0]["id"]
    else:
        run_id = loop()
    run = api.get(f"/runs/{run_id}").json()
    assert run["status"] == status
    assert {k["key"]: k["count"] for k in run["keys"]} == {"loss": 3}


@pytest.mark.parametrize(("error", "status"), [(RuntimeError, "failed"), (KeyboardInterrupt, "stopped")])
def test_a_train_call_that_never_ended_is_closed_by_the_next(
    live_server, api, tmp_path, monkeypatch: pytest.MonkeyPatch, error: type[BaseException], status: str
) -> None:
    # A notebook: train() is interrupted, the kernel lives on, and the cell is run again.
    lw = LossWatchCallback(url=live_server.url, run_name="notebook", early_stopping=NEVER_STOP)

    def boom() -> None:
        raise error("interrupted")

    with pytest.raises(error):
        overfitting_trainer(str(tmp_path / "first"), [lw, AtStep({4: boom})], max_steps=50).train()
    first, sender = lw.run_id, lw.client._sender._thread if lw.client else None
    monkeypatch.setattr(sys, "last_type", error, raising=False)  # as IPython keeps the exception it showed
    overfitting_trainer(str(tmp_path / "second"), [lw], max_steps=8).train()
    assert lw.run_id != first
    assert api.get(f"/runs/{first}").json()["status"] == status
    assert api.get(f"/runs/{lw.run_id}").json()["status"] == "finished"
    assert sender is not None and not sender.is_alive()


def test_keep_best_after_a_train_call_that_never_ended(live_server, tmp_path) -> None:
    # The same trainer, train() interrupted after its first evaluation and called again, as in a notebook.
    lw = LossWatchCallback(url=live_server.url, run_name="notebook-best", early_stopping=NEVER_STOP)

    def boom() -> None:
        raise KeyboardInterrupt

    stop_at = AtStep({7: boom})
    trainer = overfitting_trainer(str(tmp_path / "out"), [lw, stop_at], max_steps=20, load_best_model_at_end=False)
    with pytest.raises(KeyboardInterrupt):
        trainer.train()
    stop_at.actions = {}
    lw.best = None
    trainer.train()
    assert lw.best is not None  # kept the best again, not taken for a Trainer that loads it itself
    assert trainer.args.load_best_model_at_end is False  # the user's setting, put back


TERMINATED = """
import os, signal, sys
from transformers import TrainerCallback
from losswatch.callbacks import LossWatchCallback
from tests.tiny import overfitting_trainer

class Term(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 12:
            print("RUN", lw.run_id, max(h["step"] for h in state.log_history if "loss" in h), flush=True)
            os.kill(os.getpid(), signal.SIGTERM)  # docker stop, a scheduler's preemption

if sys.argv[3] == "own-handler":  # a framework that notes the signal and trains on (to save at its next step)
    signal.signal(signal.SIGTERM, lambda signum, frame: print("NOTED", flush=True))
lw = LossWatchCallback(url=sys.argv[1], run_name="term", early_stopping={"rule": "best", "patience": 10000})
overfitting_trainer(sys.argv[2], [lw, Term()], max_steps=50).train()
print("NOT REACHED", flush=True)
"""


@pytest.mark.parametrize("handler", ["default", "own-handler"])
def test_a_sigterm_closes_the_run_and_still_ends_the_process(live_server, api, tmp_path, handler: str) -> None:
    # Python dies of SIGTERM without atexit: the run read "running" until stale, and the sender's last
    # points were lost. A process with a handler of its own goes on as that handler says.
    script = tmp_path / "term.py"
    script.write_text(textwrap.dedent(TERMINATED))
    done = subprocess.run(
        [sys.executable, str(script), live_server.url, str(tmp_path / "out"), handler],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))},
        capture_output=True,
        text=True,
        timeout=300,
    )
    ((run_id, logged),) = [line.split()[1:] for line in done.stdout.splitlines() if line.startswith("RUN ")]
    run = api.get(f"/runs/{run_id}").json()
    if handler == "own-handler":
        assert done.returncode == 0 and "NOTED" in done.stdout and "NOT REACHED" in done.stdout, done.stderr[-3000:]
        assert run["status"] == "finished"
        return
    assert done.returncode == -signal.SIGTERM and "NOT REACHED" not in done.stdout, done.stderr[-3000:]
    assert run["status"] == "failed"
    assert {k["key"]: k["last_step"] for k in run["keys"]}["loss"] == int(logged)  # every point logged arrived
