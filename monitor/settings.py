"""The one settings object; every part of losswatch gets it passed in."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from losswatch.monitor.vocabulary import DEFAULT_MAX_STEP, DEFAULT_SMOOTHING, MAX_KEY_LENGTH, MAX_STEP, MirrorTarget


def default_data_dir() -> Path:
    """The per-user data folder (~/.local/share/losswatch on Linux), as trackio and TensorBoard plugins keep theirs."""
    return Path(platformdirs.user_data_dir("losswatch", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOSSWATCH_", extra="ignore")

    # Per user, not per current directory: `token create` and `serve` started from two different
    # folders must meet the same database. (Never ".losswatch": that is the trainer-side spool.)
    data_dir: Path = Field(default_factory=default_data_dir, description="where the SQLite file and mirrors live")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in data_dir")
    host: str = "127.0.0.1"
    port: int = 8000
    auth: Literal["off", "required"] = Field(default="off", description="off serves loopback only")
    insecure: bool = Field(default=False, description="allow binding beyond loopback without auth")
    # With auth off only loopback Host names are answered (DNS rebinding); a name a person serves the
    # dashboard under on purpose (an SSH tunnel's alias, a reverse proxy) is added here.
    allowed_hosts: list[str] = Field(default_factory=list, description="extra Host names served while auth is off")
    busy_timeout: float = Field(
        default=10.0,
        gt=0,
        description="seconds a write waits for its turn among this process's writes, and then as long again for "
        "SQLite's lock held by another process, before a 503",
    )

    # Bounds on what one request may carry; each breach is a 413/422 naming the limit.
    max_body_bytes: int = 64 * 1024 * 1024
    max_batch_points: int = 50_000
    max_key_length: int = Field(default=MAX_KEY_LENGTH, ge=1, le=MAX_KEY_LENGTH)
    max_name_length: int = 200
    max_step: int = Field(default=DEFAULT_MAX_STEP, ge=0, le=MAX_STEP)
    max_keys_per_run: int = 1_000
    max_query_points: int = 100_000
    # A run's config is stored and sent back in every run list: bounded, so one request cannot make
    # the list unservable or huge.
    max_config_bytes: int = 64 * 1024
    max_config_depth: int = 32
    max_runs_page: int = 1_000
    # The stopping policy's work one request may do, estimated in milliseconds of one core
    # (monitor/budget.py): on SQLite it runs inside the write lock that every other writer waits for.
    max_check_ms: float = Field(default=2_000.0, gt=0)
    # A SQLite batch estimated to cost at most this is written on the event loop, sparing the hand-off to
    # a worker thread (api/inline.py); 0 sends every batch to a thread.
    inline_ms: float = Field(default=5.0, ge=0, description="ms of work a small SQLite batch may do on the loop")
    max_replay_ms: float = Field(default=10_000.0, gt=0, description="the same for POST /runs/{id}/replay")

    series_cache_points: int = Field(default=5_000_000, ge=0, description="points kept in memory per worker")
    # What GET /runs/{id}/metrics/{key} uses when the query leaves smoothing or max_points out.
    default_max_points: int = Field(default=1_000, ge=2)
    default_smoothing: float = Field(default=DEFAULT_SMOOTHING, ge=0.0, lt=1.0)

    # Mirrors: runs that name none get `mirrors`; a worker thread in each service process feeds them.
    mirrors: list[MirrorTarget] = Field(default_factory=list, description="default mirrors")
    tensorboard_dir: Path | None = Field(default=None, description="default <data_dir>/tensorboard")
    mirror_worker: bool = Field(default=True, description="run the mirror worker in this process")
    mirror_poll_seconds: float = Field(default=1.0, gt=0)
    mirror_lease_seconds: float = Field(default=30.0, gt=0)

    # Run health: a running run silent this long reads "stale" (its process died: OOM, preemption).
    stale_after: float = Field(default=600.0, gt=0, description="seconds without a point or heartbeat")

    # Notifications: an outbox read by a worker thread in each service process, leased through the database.
    public_url: str | None = Field(default=None, description="base URL of the dashboard in messages")
    notify_worker: bool = Field(default=True, description="run the notification worker in this process")
    # A commit in this process that queues a message wakes the worker at once; the poll finds what other
    # processes queued and retries that came due (bench/notify_latency.py).
    notify_poll_seconds: float = Field(default=1.0, gt=0)
    notify_lease_seconds: float = Field(default=30.0, gt=0)
    notify_timeout: float = Field(default=10.0, gt=0, description="seconds a receiver may take to answer")
    notify_retry_seconds: float = Field(default=2.0, gt=0, description="first back-off; doubles per failure")
    notify_max_backoff: float = Field(default=600.0, gt=0)
    notify_max_attempts: int = Field(default=15, ge=1, description="then the message is given up as failed")
    notify_cooldown: float = Field(default=300.0, ge=0, description="least seconds between two alike events of a run")
    notify_max_targets: int = Field(default=20, ge=1)
    notify_diagnose_seconds: float = Field(
        default=30.0, ge=0, description="least seconds between two readings of a run"
    )

    @property
    def run_page_base(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        # A wildcard bind is reachable by the machine's name, not by "0.0.0.0"; an IPv6 address goes in brackets.
        host = socket.gethostname() if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def tensorboard_root(self) -> Path:
        return self.tensorboard_dir or self.data_dir / "tensorboard"

    @property
    def url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'losswatch.db').resolve()}"

    @property
    def shown_url(self) -> str:
        """The database as a person may read it: which file or server, never a password."""
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)
