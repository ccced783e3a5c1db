"""Mirror work that passes between service processes: each target ends up as one writer would have left it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine

from losswatch.monitor.mirrors.worker import MirrorWorker
from losswatch.monitor.settings import Settings
from losswatch.monitor.store import runs

from . import wandb_records
from .conftest import curve, make_run, put
from .tb_reader import run_folders
from .test_tensorboard import assert_mirrored
from .test_wandb import by_step

LEASE = 0.2

# A worker of another service process, with a wandb service of its own, for one pass.
OTHER_PROCESS = """
import sys
from losswatch.monitor.db import make_engine
from losswatch.monitor.mirrors.worker import MirrorWorker
from losswatch.monitor.settings import Settings
settings = Settings(database_url=sys.argv[1], data_dir=sys.argv[2], mirror_lease_seconds=float(sys.argv[3]))
engine = make_engine(settings.database_url)
worker = MirrorWorker(engine, settings)
assert worker.run_once() == 2
worker.stop()
engine.dispose()
"""


def _next_second() -> None:
    # wandb names an offline run's folder by the wall-clock second it opens in.
    time.sleep(1.05 - time.time() % 1)


def test_worker_that_gets_a_mirror_back_starts_afresh(
    engine: Engine, tmp_path: Path, sqlite_url: str, wandb_offline: Path
) -> None:
    # Two service processes (`serve --workers 2`) take a run's mirror in turns whenever a lease lapses (a
    # pause longer than it: an evaluation). A worker that got it back went on appending to the TensorBoard
    # file and W&B run it still held open, after the other had written past them: TensorBoard lost steps to
    # the other's purge, and no W&B file held the whole run.
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path / "data", mirror_lease_seconds=LEASE)
    here = MirrorWorker(engine, settings)
    rid = make_run(engine, mirrors=["tensorboard", "wandb"])
    rows = curve(90)
    put(engine, rid, [r for r in rows if r[1] <= 30])
    assert here.run_once() == 2

    put(engine, rid, [r for r in rows if 30 < r[1] <= 60])
    time.sleep(LEASE * 1.5)
    _next_second()
    args = [sqlite_url, str(settings.data_dir), str(LEASE)]
    # Not this process's wandb service (its WANDB_SERVICE is inherited): the other process's own, as a
    # sibling worker of `serve --workers 2` has.
    env = {k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"}
    subprocess.run([sys.executable, "-c", OTHER_PROCESS, *args], check=True, timeout=180, env=env)

    put(engine, rid, [r for r in rows if r[1] > 60])
    runs.set_status(engine, run_id=rid, status="finished")
    time.sleep(LEASE * 1.5)
    _next_second()
    assert here.run_once() == 2
    here.stop()

    [folder] = run_folders(settings.tensorboard_root)
    assert_mirrored(folder, rows)
    newest = wandb_records.run_files(wandb_offline, rid)[-1]
    assert wandb_records.history(wandb_offline, rid, [newest]) == by_step(rows)
