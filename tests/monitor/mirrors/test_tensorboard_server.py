from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import Engine

from losswatch.monitor.mirrors.worker import MirrorWorker
from losswatch.monitor.settings import Settings
from tests.conftest import free_port

from .conftest import curve, expected, make_run, put

TENSORBOARD = Path(sys.executable).parent / "tensorboard"


def test_tensorboard_server_serves_the_mirrored_scalars(
    engine: Engine, worker: MirrorWorker, mirror_settings: Settings, tmp_path: Path
) -> None:
    rid = make_run(engine, mirrors=["tensorboard"], name="served", project="smoke")
    rows = curve(120)
    put(engine, rid, rows)
    worker.run_once()
    port = free_port()
    log = open(tmp_path / "tensorboard.log", "wb")
    proc = subprocess.Popen(
        [
            str(TENSORBOARD),
            "--logdir",
            str(mirror_settings.tensorboard_root),
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    run_name = f"smoke/served-{rid}"
    try:
        tags: dict = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                tags = httpx.get(f"{url}/data/plugin/scalars/tags", timeout=2).json()
                if run_name in tags and len(tags[run_name]) == 3:
                    break
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)
        assert set(tags.get(run_name, {})) == {"train/loss", "train/learning_rate", "eval/loss"}
        series = httpx.get(
            f"{url}/data/plugin/scalars/scalars", params={"run": run_name, "tag": "eval/loss"}, timeout=10
        ).json()
        assert [int(step) for _, step, _ in series] == sorted(expected(rows)["eval_loss"])
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
