from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from losswatch.api.app import create_app
from losswatch.monitor.db import upgrade
from losswatch.monitor.settings import Settings
from tests import curves
from tests.pg import PostgresServer

ROOT = Path(__file__).resolve().parent.parent

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
# The default data folder is the person's own (~/.local/share/losswatch): no test may write there.
os.environ.setdefault("LOSSWATCH_DATA_DIR", tempfile.mkdtemp(prefix="losswatch-tests-"))


# Fixtures that read the real curves, and those that start servers, trainers or browsers (the slow ones).
CURVE_FIXTURES = {"curve", "curves_dir"}
SLOW_FIXTURES = {"live_server", "server", "page", "browser", "trained", "postgres"}
SLOW_PATHS = ("tests/callbacks/", "tests/api/dashboard/", "tests/monitor/mirrors/", "tests/test_scale_out.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark what needs the real curves (skipped, with the reason, when they are absent) and what is slow."""
    if not curves.AVAILABLE and os.environ.get("LOSSWATCH_REQUIRE_CURVES"):
        raise pytest.UsageError(f"LOSSWATCH_REQUIRE_CURVES is set but {curves.MISSING}")
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if item.get_closest_marker("curves") or fixtures & CURVE_FIXTURES:
            item.add_marker(pytest.mark.curves)
            if not curves.AVAILABLE:
                # First, so that this reason wins over pytest's "got empty parameter set".
                item.add_marker(pytest.mark.skip(reason=curves.MISSING), append=False)
        path = item.nodeid.split("::")[0]
        if fixtures & SLOW_FIXTURES or path.startswith(SLOW_PATHS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file brought to head through alembic, as `losswatch db upgrade` does."""
    url = f"sqlite:///{tmp_path / 'lw.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer(free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> str:
    """A fresh database on the session's PostgreSQL server, brought to head through alembic."""
    url = postgres.new_database()
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Store and API tests run on both backends."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(database_url=db_url, data_dir=tmp_path / "data")


# With auth off the service answers only to loopback Host names, so test clients speak as a browser on
# the same machine does (TestClient's own default, "testserver", is refused like any other name).
LOCAL = "http://127.0.0.1"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url=LOCAL) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """`losswatch serve` in its own process on loopback; can be stopped and started again."""

    def __init__(
        self, data_dir: Path, port: int | None = None, env: dict[str, str] | None = None, args: list[str] | None = None
    ) -> None:
        self.data_dir, self.port, self.args = data_dir, port or free_port(), list(args or [])
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> LiveServer:
        log = open(self.data_dir.parent / f"server-{self.port}.log", "ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "losswatch",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                *self.args,
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            time.sleep(0.1)
        raise RuntimeError("server did not come up")

    def stop(self, kill: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill() if kill else self.proc.terminate()
            self.proc.wait(timeout=15)
        self.proc = None


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path / "server-data").start()
    yield server
    server.stop()
