"""Follow training output folders live (`losswatch watch`): one run per folder, stop only where graceful.

Each poll reads a folder as `losswatch import` does (same identity, so the same run across restarts
of either), sends what is new, and reads the decision. A stop is carried out only where the writer
stops gracefully: LLaMA-Factory started with LLAMABOARD_ENABLED (as its web UI starts it) finishes
its step, saves and exits on SIGABRT. Anywhere else the watcher says what to do; it never kills.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from losswatch.monitor.importers import UnreadableLog, read_log
from losswatch.monitor.importers.errors import UploadError
from losswatch.monitor.importers.upload import Sent, run_id_for, upload
from losswatch.monitor.vocabulary import llamaboard_enabled


@dataclass
class Followed:
    folder: Path
    run_id: str | None = None
    sent: Sent = field(default_factory=dict)
    last_step: int | None = None
    status: str | None = None  # set once the run has ended
    stop: dict[str, Any] | None = None  # the stop decision, once acted on
    waiting: str | None = None  # why the folder has no readable log yet, once said


def graceful(pid: int) -> bool:
    """Whether `pid` stops gracefully on SIGABRT: LLaMA-Factory under LLAMABOARD_ENABLED."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    for item in raw.split(b"\0"):
        if item.startswith(b"LLAMABOARD_ENABLED="):
            return llamaboard_enabled(item.split(b"=", 1)[1].decode(errors="replace"))
    return False


def descendants(pid: int) -> list[int]:
    """`pid`'s children, their children and so on, deepest first (from /proc: Linux, as LLaMA-Factory's web UI)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat(stat)
        if fields is not None and len(fields) > 1 and fields[1].isdigit():  # gone meanwhile, else
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out: list[int] = []

    def visit(p: int) -> None:
        for child in children.get(p, []):
            visit(child)
            out.append(child)

    visit(pid)
    return out


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A child of ours that exited is a zombie until reaped: it is not training any more.
    fields = _stat(Path(f"/proc/{pid}/stat"))
    return not fields or fields[0] != "Z"


def _stat(path: Path) -> list[str] | None:
    """The fields of a /proc/<pid>/stat after the command name (state, parent pid, ...), or None when gone."""
    try:
        return path.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


class Watcher:
    def __init__(
        self,
        folders: list[Path],
        *,
        client: httpx.Client,
        project: str,
        name: str | None = None,
        early_stopping: dict[str, Any] | None = None,
        pid: int | None = None,
        interval: float = 1.0,
        say: Callable[[str], None] = print,
    ) -> None:
        self.followed = [Followed(folder) for folder in folders]
        self.client, self.project, self.name = client, project, name
        self.early_stopping, self.pid, self.interval, self.say = early_stopping, pid, interval, say
        self.signalled_at: float | None = None
        self.down_since: float | None = None  # since when the service has not answered
        self.family: list[int] = []  # the processes a stop was signalled to: the run lives while any does

    # -- one pass over the folders ---------------------------------------------------------------
    def poll(self) -> None:
        for f in self.followed:
            if f.status is None:
                self._patiently(self._poll, f)

    def _patiently(self, step: Callable[[Followed], None], f: Followed) -> bool:
        """Run `step`, riding out a service that does not answer for a while (a restart, an upgrade): the
        folder keeps everything still to be sent, and batch ids make a resend harmless. Said once each way."""
        try:
            step(f)
        except (UploadError, httpx.HTTPError) as exc:
            if not _transient(exc):
                raise
            if self.down_since is None:
                self.down_since = time.monotonic()
                self.say(f"losswatch watch: the service does not answer ({exc}); trying again, training goes on")
            return False
        if self.down_since is not None:
            self.say(f"losswatch watch: the service answers again after {time.monotonic() - self.down_since:.0f} s")
            self.down_since = None
        return True

    def _poll(self, f: Followed) -> None:
        try:
            log = read_log(f.folder)
        except UnreadableLog as exc:
            # Nothing logged yet (or a half-written first line): the next poll sees more. Said once, so a
            # watcher pointed at the wrong folder does not sit there silently.
            if f.run_id is None and f.waiting != exc.reason:
                f.waiting = exc.reason
                self.say(f"{f.folder}: waiting for a training log ({exc.reason})")
            return
        run_id = run_id_for(log, self.project)
        if run_id != f.run_id:
            if f.run_id is not None:
                self.say(f"{f.folder}: a new training started in this folder; following it as run {run_id}")
            f.run_id, f.sent, f.stop = run_id, {}, None
            self.say(f"{f.folder}: following as run {run_id} in project {self.project}")
        name = self.name if self.name and len(self.followed) == 1 else None
        result = upload(
            log,
            client=self.client,
            project=self.project,
            name=name,
            progress=False,
            early_stopping=self.early_stopping,
            sent=f.sent,
            end=False,
        )
        f.last_step = max((p.step for p in log.points), default=f.last_step)
        decision = result["decision"] if result["points"] else self._decision(run_id)
        if decision and decision.get("should_stop") and f.stop is None:
            f.stop = decision
            self._stop(f, decision)
        if log.status:
            self._end(f, log.status)

    def _decision(self, run_id: str) -> dict[str, Any] | None:
        # Nothing new was sent: a person's stop still has to be heard.
        try:
            r = self.client.get(f"/api/v1/runs/{run_id}/decision")
        except httpx.HTTPError:
            return None
        return r.json() if r.status_code == 200 else None

    def _stop(self, f: Followed, decision: dict[str, Any]) -> None:
        what = (
            f"losswatch: run {f.run_id} should stop at step {decision.get('step')} "
            f"({decision.get('reason')}): {decision.get('message')}"
        )
        if self.pid is not None and alive(self.pid) and graceful(self.pid):
            # The whole tree, deepest first, as LLaMA-Factory's own Abort does: under torchrun (FORCE_TORCHRUN,
            # which the web UI sets with more than one device) the training processes are the launcher's
            # grandchildren, and the launcher itself dies of the signal.
            self.family = [*descendants(self.pid), self.pid]
            for pid in self.family:
                try:
                    os.kill(pid, signal.SIGABRT)
                except ProcessLookupError:
                    pass
            self.signalled_at = time.monotonic()
            self.say(f"{what}. Sent SIGABRT to {self.pid}: LLaMA-Factory finishes its step, saves and exits.")
            return
        how = (
            f"process {self.pid} was not started by LLaMA-Factory's web UI (no LLAMABOARD_ENABLED), so "
            "stopping it from outside would lose its work"
            if self.pid is not None
            else "no --pid was given"
        )
        self.say(
            f"{what}. losswatch does not stop it ({how}): press Abort in LLaMA-Factory's web UI or stop the "
            "training yourself; the latest checkpoint is in the output folder. Started with `losswatch run -- "
            "...`, the next run stops itself and keeps its best weights."
        )

    def _end(self, f: Followed, status: str) -> None:
        if f.run_id is None:
            return
        r = self.client.patch(f"/api/v1/runs/{f.run_id}", json={"status": status})
        r.raise_for_status()
        f.status = status
        self.say(f"{f.folder}: run {f.run_id} {status} at step {f.last_step}")

    # -- until every folder's run has ended --------------------------------------------------------
    def run(self) -> None:
        while True:
            self.poll()
            if all(f.status for f in self.followed):
                return
            if self.pid is not None and not any(alive(p) for p in [self.pid, *self.family]):
                self.poll()  # what the process wrote on its way out
                # It left without writing what a finished training writes.
                left = [f for f in self.followed if f.status is None and f.run_id is not None]
                if all([self._patiently(lambda f: self._end(f, "stopped" if f.stop else "failed"), f) for f in left]):
                    return
            time.sleep(self.interval)


def _transient(exc: Exception) -> bool:
    """No answer, or the service's own trouble (5xx, 429): worth trying again. A 4xx is an answer."""
    status = exc.status if isinstance(exc, UploadError) else None
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
    elif isinstance(exc, httpx.HTTPError):
        return True
    return status is None or status >= 500 or status == 429
