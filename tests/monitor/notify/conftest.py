from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from losswatch.monitor.db import make_engine
from losswatch.monitor.notify.worker import NotifyWorker
from losswatch.monitor.settings import Settings
from tests.receiver import Receiver


@pytest.fixture
def notify_settings(tmp_path: Path, db_url: str) -> Settings:
    # Short back-off and timeout so that retries happen within a test; no cooldown unless a test sets one.
    return Settings(
        database_url=db_url,
        data_dir=tmp_path / "data",
        notify_retry_seconds=0.05,
        notify_max_backoff=0.2,
        notify_timeout=1.0,
        notify_cooldown=0,
        notify_diagnose_seconds=0,
        public_url="https://lw.example.org",
    )


@pytest.fixture
def engine(notify_settings: Settings) -> Iterator[Engine]:
    e = make_engine(notify_settings.url)
    yield e
    e.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def worker(engine: Engine, notify_settings: Settings) -> Iterator[NotifyWorker]:
    w = NotifyWorker(engine, notify_settings)
    yield w
    w.stop()
