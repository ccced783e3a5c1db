"""A client for any training loop: `log` enqueues, a background sender batches, spools and sends.

Fail-open: when the service cannot be reached, training goes on, the failure is said once, and the
points wait in the disk spool to be sent when it answers again (or by `losswatch sync`).
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

from losswatch.callbacks.sender import Sender, wire
from losswatch.monitor.policy_json import ENV as POLICY_ENV
from losswatch.monitor.policy_json import policy_from_env
from losswatch.monitor.spool import SPOOL_DIRNAME
from losswatch.monitor.storable import clean
from losswatch.monitor.vocabulary import service_root

# Within the service's defaults (max_config_depth 32, max_config_bytes 64 KiB), so a run is never refused
# for its config: the run's monitoring matters more than a complete copy of its settings.
CONFIG_DEPTH = 24
CONFIG_BYTES = 60_000

__all__ = ["LossWatchClient", "wire"]
log = logging.getLogger("losswatch")


class LossWatchClient:
    """`log(step, metrics)`, `decision()`, `close()`; the run is created on first contact.

    The spool lives in `spool_dir` (default `./.losswatch`, or `LOSSWATCH_SPOOL_DIR`).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        project: str | None = None,
        run_name: str | None = None,
        run_id: str | None = None,
        early_stopping: dict[str, Any] | None = None,
        token: str | None = None,
        config: dict[str, Any] | None = None,
        spool_dir: str | Path | None = None,
        batch_size: int = 500,
        flush_interval: float = 0.5,
        timeout: float = 5.0,
        poll_interval: float = 1.0,
        advice: bool = True,
    ) -> None:
        self.url = service_root(url or os.environ.get("LOSSWATCH_URL") or "http://127.0.0.1:8000")
        self.project = project or os.environ.get("LOSSWATCH_PROJECT") or "default"
        self.run_name = run_name or os.environ.get("LOSSWATCH_RUN_NAME") or "run"
        self.run_id = run_id or uuid.uuid4().hex[:16]
        if early_stopping is None:
            try:
                early_stopping = policy_from_env()
            except ValueError as exc:  # a bad setting must not stop training: the service default applies
                log.warning("losswatch: %s ignored: %s", POLICY_ENV, exc)
        self.early_stopping = early_stopping
        self.config = fit_config(config or {})
        run: dict[str, Any] = {"id": self.run_id, "project": self.project, "name": self.run_name, "config": self.config}
        if early_stopping is not None:
            run["early_stopping"] = early_stopping
        spool_dir = spool_dir or os.environ.get("LOSSWATCH_SPOOL_DIR") or SPOOL_DIRNAME
        self._sender = Sender(
            url=self.url,
            run=run,
            spool_dir=spool_dir,
            token=token or os.environ.get("LOSSWATCH_TOKEN"),
            batch_size=batch_size,
            flush_interval=flush_interval,
            timeout=timeout,
            poll_interval=poll_interval,
            advice=advice,
        )
        self._closed = False
        self._status: str | None = None

    # -- the training side: cheap, never raising --------------------------------------------------
    def log(self, step: int, metrics: dict[str, Any]) -> None:
        """Hand the numbers to the sender; non-numbers are skipped."""
        try:
            self._sender.put((int(step), dict(metrics), time.time()))
        except Exception:  # noqa: BLE001 - the training loop must never see our errors
            self._sender._say("enqueue", "could not enqueue metrics")

    def rewind(self, step: int) -> None:
        """Forget the points after `step` (a resume from an earlier checkpoint); replays are no-ops."""
        self._sender.put({"kind": "rewind", "run_id": self.run_id, "step": int(step), "rewind_id": uuid.uuid4().hex})

    def flush(self, timeout: float = 2.0, *, even_if_down: bool = False) -> bool:
        """Wait until everything logged so far has been delivered; False if it was not."""
        return self._sender.flush(timeout, even_if_down=even_if_down)

    def decision(self, timeout: float = 2.0) -> dict[str, Any] | None:
        """The service's latest decision after a flush; None when the service never answered."""
        self.flush(timeout)
        return self._sender.decision

    @property
    def latest_decision(self) -> dict[str, Any] | None:
        """The last decision the sender heard (ingest answers and a light poll), without waiting."""
        return self._sender.decision

    @property
    def advice(self) -> list[dict[str, Any]] | None:
        return self._sender.advice

    @property
    def failures(self) -> int:
        return self._sender.failures

    @property
    def spool_dir(self) -> Path:
        return self._sender.spool.path

    def set_status(self, status: str) -> None:
        """finished | failed | stopped; ordered after the points, spooled like them."""
        self._status = status
        self._sender.put({"kind": "status", "run_id": self.run_id, "status": status})

    def report_best_checkpoint(self, step: int, path: str) -> None:
        """Where the best evaluation's weights are on disk; shown as the run's `best_checkpoint`."""
        record = {"kind": "checkpoint", "run_id": self.run_id, "best_checkpoint": {"step": int(step), "path": path}}
        self._sender.put(record)

    def close(self, timeout: float = 5.0, *, status: str = "finished") -> None:
        """End the run (`status`, unless one was set already), then deliver for at most `timeout`
        seconds; what is left stays in the spool."""
        if self._closed:
            return
        if self._status is None:
            self.set_status(status)
        self._closed = True
        self._sender.close(timeout)

    def __enter__(self) -> LossWatchClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            # Ctrl-C is a person stopping the loop; any other exception ended it in failure.
            self.close(status="stopped" if issubclass(exc_type, KeyboardInterrupt) else "failed")


def fit_config(config: dict[str, Any]) -> dict[str, Any]:
    """The config as the service takes it: text cleaned, NaN spelled, deep parts flattened to text, and
    when still too large, only its top-level numbers, flags and short strings."""
    out = clean(config, max_depth=CONFIG_DEPTH)
    if len(json.dumps(out, ensure_ascii=False).encode()) <= CONFIG_BYTES:
        return out
    small = {
        k: v for k, v in out.items() if isinstance(v, int | float | bool) or (isinstance(v, str) and len(v) <= 200)
    }
    small["losswatch_note"] = f"config cut to its top-level scalars: it took more than {CONFIG_BYTES} bytes"
    return small
