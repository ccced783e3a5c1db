from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from losswatch.monitor.db import make_engine
from losswatch.monitor.mirrors.worker import MirrorWorker
from losswatch.monitor.settings import Settings
from losswatch.monitor.store import runs
from losswatch.monitor.store.ingest import ingest
from losswatch.monitor.store.values import PointIn


@pytest.fixture(autouse=True)
def wandb_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """W&B always offline, in a folder of this test's own."""
    folder = tmp_path / "wandb-dir"
    folder.mkdir()
    for name in ("WANDB_API_KEY", "WANDB_PROJECT", "WANDB_ENTITY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(folder))
    monkeypatch.setenv("WANDB_SILENT", "true")
    return folder


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    eng = make_engine(sqlite_url)
    yield eng
    eng.dispose()


@pytest.fixture
def mirror_settings(tmp_path: Path, sqlite_url: str) -> Settings:
    return Settings(database_url=sqlite_url, data_dir=tmp_path / "data", mirror_poll_seconds=0.05)


@pytest.fixture
def worker(engine: Engine, mirror_settings: Settings) -> Iterator[MirrorWorker]:
    w = MirrorWorker(engine, mirror_settings)
    yield w
    w.stop()


def make_run(
    engine: Engine,
    *,
    mirrors: list[str],
    name: str = "sft",
    project: str = "proj",
    run_id: str | None = None,
    config: dict | None = None,
) -> str:
    run, _ = runs.create_run(engine, name=name, project=project, run_id=run_id, mirrors=mirrors, config=config)
    return run["id"]


def put(engine: Engine, run_id: str, rows: list[tuple[str, int, float]]) -> None:
    ingest(engine, run_id=run_id, points=[PointIn(k, s, v, 1_700_000_000.0 + s) for k, s, v in rows])


def curve(n: int, *, eval_every: int = 10, lr: bool = True) -> list[tuple[str, int, float]]:
    """A training-like log: loss every step, lr every step, eval_loss every `eval_every` steps."""
    rows: list[tuple[str, int, float]] = []
    for s in range(1, n + 1):
        rows.append(("loss", s, 2.0 * math.exp(-s / 300) + 0.3 + 0.05 * math.sin(s)))
        if lr:
            rows.append(("learning_rate", s, 5e-5 * (1 - s / (n + 1))))
        if s % eval_every == 0:
            rows.append(("eval_loss", s, 1.5 * math.exp(-s / 400) + 0.4))
    return rows


def expected(rows: list[tuple[str, int, float]]) -> dict[str, dict[int, float]]:
    out: dict[str, dict[int, float]] = {}
    for k, s, v in rows:
        out.setdefault(k, {})[s] = v
    return out
