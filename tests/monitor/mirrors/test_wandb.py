from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from losswatch.monitor.mirrors import cursors
from losswatch.monitor.mirrors import wandb as wandb_mirror
from losswatch.monitor.mirrors.tags import tag
from losswatch.monitor.mirrors.worker import MirrorWorker
from losswatch.monitor.store import runs

from . import wandb_records
from .conftest import curve, expected, make_run, put


def by_step(rows) -> dict[int, dict[str, float]]:
    out: dict[int, dict[str, float]] = {}
    for key, points in expected(rows).items():
        for s, v in points.items():
            out.setdefault(s, {})[tag(key)] = v
    return out


def test_wandb_offline_file_holds_every_point_at_its_training_step(
    engine: Engine, worker: MirrorWorker, wandb_offline: Path
) -> None:
    rid = make_run(engine, mirrors=["wandb"], config={"learning_rate": 5e-5, "eval_steps": 10})
    rows = curve(250)
    put(engine, rid, rows)
    runs.set_status(engine, run_id=rid, status="finished")
    assert worker.run_once() == 1
    assert wandb_records.history(wandb_offline, rid) == by_step(rows)
    [config] = [r.config for r in wandb_records.of_type(wandb_offline, rid, "config")][-1:]
    synced = {i.key: json.loads(i.value_json) for i in config.update}
    assert synced["learning_rate"] == 5e-5, synced
    assert synced["eval_steps"] == 10


def test_wandb_records_waits_for_the_block_the_service_writes_last(
    engine: Engine, worker: MirrorWorker, wandb_offline: Path, tmp_path: Path
) -> None:
    # The file as a reader could see it just after run.finish(): whole 32 KiB blocks, the last not yet written.
    rid = make_run(engine, mirrors=["wandb"])
    put(engine, rid, curve(250))
    runs.set_status(engine, run_id=rid, status="finished")
    worker.run_once()
    [path] = wandb_records.run_files(wandb_offline, rid)
    assert wandb_records.finished(path)
    cut = tmp_path / "cut.wandb"
    cut.write_bytes(path.read_bytes()[: wandb_records.BLOCK * (path.stat().st_size // wandb_records.BLOCK)])
    assert not wandb_records.finished(cut)


@pytest.mark.parametrize("late_key", ["eval_loss", "eval_accuracy"])
def test_wandb_sends_a_key_that_comes_late_for_a_step_already_sent(
    engine: Engine, worker: MirrorWorker, wandb_offline: Path, late_key: str
) -> None:
    # The Trainer logs the training loss, evaluates (minutes, often), then logs the evaluation at the same
    # step: by then W&B holds that step's training row and later ones. A watermark per run lost every
    # evaluation that took longer than a few seconds, and still read "in sync".
    rid = make_run(engine, mirrors=["wandb"])
    rows = [r for r in curve(30) if r[0] == "loss"]
    put(engine, rid, rows)
    worker.run_once()
    late = [(late_key, 10, 0.9), (late_key, 20, 0.8), (late_key, 30, 0.85)]
    put(engine, rid, late)
    worker.run_once()
    runs.set_status(engine, run_id=rid, status="finished")
    worker.run_once()
    got = wandb_records.history(wandb_offline, rid)
    assert got == by_step(rows + late)
    with engine.connect() as conn:
        row = cursors.cursors(conn, run_id=rid)[(rid, "wandb")]
    assert row.last_step == 30 and row.state["keys"] == {"loss": 30, late_key: 30}


def test_wandb_does_not_send_an_overwrite_twice(engine: Engine, worker: MirrorWorker, wandb_offline: Path) -> None:
    # W&B cannot rewrite a row: a point at or below its key's watermark (an overwrite) is not sent again.
    rid = make_run(engine, mirrors=["wandb"])
    rows = curve(20)
    put(engine, rid, rows)
    worker.run_once()
    put(engine, rid, [("loss", 5, 99.0), ("loss", 21, 0.5)])
    runs.set_status(engine, run_id=rid, status="finished")
    worker.run_once()
    [path] = wandb_records.run_files(wandb_offline, rid)
    logged = [
        json.loads(i.value_json)
        for r in wandb_records.records(path)
        if r.WhichOneof("record_type") == "history"
        for i in r.history.item
        if (i.key or "/".join(i.nested_key)) == "train/loss"
    ]
    assert len(logged) == 21 and 99.0 not in logged


def test_wandb_stop_decision_becomes_an_alert(engine: Engine, worker: MirrorWorker, wandb_offline: Path) -> None:
    rid = make_run(engine, mirrors=["wandb"])
    put(engine, rid, curve(40))
    runs.request_stop(engine, run_id=rid, reason="diverging, says the operator")
    runs.set_status(engine, run_id=rid, status="stopped")
    worker.run_once()
    alerts = [r.alert for r in wandb_records.of_type(wandb_offline, rid, "alert")]
    assert len(alerts) == 1
    assert "manual" in alerts[0].title and "diverging, says the operator" in alerts[0].text


SECOND_WORKER = """
import sys
from losswatch.monitor.db import make_engine
from losswatch.monitor.mirrors.worker import MirrorWorker
from losswatch.monitor.settings import Settings
settings = Settings(database_url=sys.argv[1], data_dir=sys.argv[2], mirror_poll_seconds=0.05)
engine = make_engine(settings.database_url)
worker = MirrorWorker(engine, settings)
worker.run_once()
worker.stop()
engine.dispose()
"""


def test_wandb_new_process_writes_a_complete_offline_file(engine: Engine, mirror_settings, wandb_offline: Path) -> None:
    rid = make_run(engine, mirrors=["wandb"])
    rows = curve(60)
    put(engine, rid, rows[:60])
    first = MirrorWorker(engine, mirror_settings)
    first.run_once()
    first.stop()
    put(engine, rid, rows[60:])
    runs.set_status(engine, run_id=rid, status="finished")
    # wandb names offline folders by the wall-clock second; a restarted service is never within the
    # same second as the process it replaces, so neither is the second worker here.
    time.sleep(1.05 - time.time() % 1)
    # A real new process, with a wandb service of its own (in this one, the first run's service may still
    # hold the run's steps and drop the second's as already logged).
    args = [mirror_settings.database_url, str(mirror_settings.data_dir)]
    subprocess.run([sys.executable, "-c", SECOND_WORKER, *args], check=True, timeout=180)
    files = wandb_records.run_files(wandb_offline, rid)
    assert len(files) == 2
    assert wandb_records.history(wandb_offline, rid, files[-1:]) == by_step(rows)


MODES = [
    pytest.param({}, "offline", True, id="no-key-no-mode"),
    pytest.param({"WANDB_API_KEY": "x" * 40}, "online", False, id="key"),
    pytest.param({"WANDB_API_KEY": "x" * 40, "WANDB_MODE": "offline"}, "offline", True, id="mode-wins"),
    pytest.param({"WANDB_MODE": "disabled"}, "disabled", False, id="disabled"),
]


@pytest.mark.parametrize(("env", "mode", "hint"), MODES)
def test_wandb_mode_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict, mode: str, hint: bool
) -> None:
    monkeypatch.delenv("WANDB_MODE", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert wandb_mirror.mode() == mode
    note = wandb_mirror.WandbMirror(tmp_path).note()
    assert (note is not None and "wandb sync" in note) == hint
