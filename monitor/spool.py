"""The trainer's disk spool: an append-only, ordered log of what it sends, replayed with the same ids.

Layout of a spool folder (usually `<output_dir>/.losswatch/`):

- `seg-00000001.jsonl`, ... : segments of JSON lines, in order. A writer starts a new segment per
  session and when one grows past `segment_bytes`, so a torn last line (a killed process) never
  sits in front of later records.
- `cursor.json`: `{"segment": n, "offset": bytes}`, where delivery has reached. Fully delivered
  segments are deleted, so a healthy run keeps at most one small segment.
- `spool.lock`: held (flock) by the process writing the spool, so `losswatch sync` cannot race it.

Records (one JSON object a line, `"kind"` names it):

- `run`: `{"run": <POST /runs body with its id>}`: creates (or finds) the run before its data.
- `metrics`: `{"run_id", "batch_id", "series"}` (columnar, one entry per key, as POST /metrics takes it;
  spools written before the columnar form carry `"points"` instead, and replay as they are): a retried
  batch is a no-op on the service.
- `rewind`: `{"run_id", "step", "rewind_id"}`: a replayed rewind is a no-op, so a replay never
  deletes points sent after it.
- `status`: `{"run_id", "status"}`.
- `checkpoint`: `{"run_id", "best_checkpoint": {"step", "path"}}`: where the best weights are kept.

`replay` delivers records from the cursor on; this module imports no trainer code, so `losswatch sync`
and the training process share it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from losswatch.monitor.columnar import by_key, halve
from losswatch.monitor.storable import clean
from losswatch.monitor.vocabulary import is_run_id

try:  # POSIX only; elsewhere the spool works, unlocked.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("losswatch")

SPOOL_DIRNAME = ".losswatch"
_PREFIX, _SUFFIX = "seg-", ".jsonl"

Position = tuple[int, int]  # (segment number, byte offset just past a record)


class Unreachable(Exception):
    """The service did not take a record in a way that a retry may fix (network, 5xx, auth, 404)."""


class SpoolBusy(Exception):
    """Another process holds the spool."""


def _seg_name(n: int) -> str:
    return f"{_PREFIX}{n:08d}{_SUFFIX}"


class Spool:
    """An append-only log of records in a folder, with a delivery cursor. One writer at a time."""

    def __init__(self, path: str | Path, *, segment_bytes: int = 1 << 20) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self._lock_file: Any = None
        self._write_seg: int | None = None
        self._write_file: Any = None
        self._write_size = 0
        self.cursor: Position = self._read_cursor()

    # -- locking ---------------------------------------------------------------------------------
    def lock(self) -> None:
        """Take the spool for this process; SpoolBusy when another process has it."""
        if fcntl is None or self._lock_file is not None:
            return
        f = open(self.path / "spool.lock", "a+")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            f.close()
            raise SpoolBusy(f"{self.path} is in use by another process (a training run still writing it?)") from exc
        self._lock_file = f

    def close(self) -> None:
        if self._write_file is not None:
            self._write_file.close()
            self._write_file = None
        if self._lock_file is not None:
            self._lock_file.close()  # closing releases the flock
            self._lock_file = None

    # -- writing ---------------------------------------------------------------------------------
    def segments(self) -> list[int]:
        out = []
        for p in self.path.glob(f"{_PREFIX}*{_SUFFIX}"):
            try:
                out.append(int(p.name[len(_PREFIX) : -len(_SUFFIX)]))
            except ValueError:
                continue
        return sorted(out)

    def append(self, record: dict[str, Any]) -> Position:
        line = _line(record)
        if self._write_file is None or self._write_size >= self.segment_bytes:
            self._rotate()
        self._write_file.write(line)
        self._write_file.flush()  # in the OS's hands: survives the process being killed
        self._write_size += len(line)
        assert self._write_seg is not None
        return (self._write_seg, self._write_size)

    def _rotate(self) -> None:
        if self._write_file is not None:
            self._write_file.close()
        segs = self.segments()
        self._write_seg = max([*segs, self.cursor[0], 0]) + 1
        self._write_file = open(self.path / _seg_name(self._write_seg), "ab")
        self._write_size = 0

    # -- reading and the cursor ------------------------------------------------------------------
    def pending(self) -> Iterator[tuple[Position, dict[str, Any]]]:
        """Undelivered records in order, each with the position to `ack` once it is delivered."""
        for seg in self.segments():
            if seg < self.cursor[0]:
                continue
            start = self.cursor[1] if seg == self.cursor[0] else 0
            try:
                f = open(self.path / _seg_name(seg), "rb")
            except FileNotFoundError:
                continue
            with f:
                f.seek(start)
                offset = start
                for raw in f:
                    offset += len(raw)
                    if not raw.endswith(b"\n"):
                        if seg == self._write_seg:
                            return  # being written by us right now
                        log.warning("losswatch: skipping a torn record at the end of %s", _seg_name(seg))
                        yield (seg, offset), {"kind": "torn"}
                        continue
                    try:
                        record = json.loads(raw)
                    except ValueError:
                        log.warning("losswatch: skipping an unreadable record in %s", _seg_name(seg))
                        record = {"kind": "torn"}
                    yield (seg, offset), record

    def ack(self, pos: Position) -> None:
        """Delivery reached `pos`: persist it and delete the segments wholly behind it."""
        if pos <= self.cursor:
            return
        self.cursor = pos
        tmp = self.path / "cursor.json.tmp"
        tmp.write_text(json.dumps({"segment": pos[0], "offset": pos[1]}))
        os.replace(tmp, self.path / "cursor.json")
        for seg in self.segments():
            if seg >= pos[0]:
                break
            (self.path / _seg_name(seg)).unlink(missing_ok=True)
        if pos[0] != self._write_seg:
            p = self.path / _seg_name(pos[0])
            if p.exists() and p.stat().st_size <= pos[1]:
                p.unlink(missing_ok=True)

    def unsent_bytes(self) -> int:
        total = 0
        for seg in self.segments():
            if seg < self.cursor[0]:
                continue
            try:
                size = (self.path / _seg_name(seg)).stat().st_size
            except FileNotFoundError:
                continue
            total += size - (self.cursor[1] if seg == self.cursor[0] else 0)
        return max(total, 0)

    def _read_cursor(self) -> Position:
        try:
            c = json.loads((self.path / "cursor.json").read_text())
            pos = (int(c["segment"]), int(c["offset"]))
        except (OSError, ValueError, KeyError, TypeError, OverflowError):
            # Lost or damaged: deliver from the start again; batch ids make the repeats change nothing.
            return (0, 0)
        return pos if min(pos) >= 0 else (0, 0)


def _line(record: dict[str, Any]) -> bytes:
    """One spool line. A record JSON cannot carry as it is (an unpaired surrogate from a non-UTF-8
    path, a NaN in a config, a NUL) is cleaned rather than lost: its run would go unmonitored."""
    try:
        text = json.dumps(record, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
        if "\\u0000" not in text:
            return (text + "\n").encode("utf-8")
    except (ValueError, TypeError):  # UnicodeEncodeError is a ValueError
        pass
    return (json.dumps(clean(record), separators=(",", ":"), allow_nan=False, ensure_ascii=False) + "\n").encode()


def _encoded(body: dict[str, Any]) -> bytes:
    """`body` as the JSON a request carries, cleaned as a spool line is (`sendable`'s check, in the one encoding
    pass the request needs anyway)."""
    return _line(body)[:-1]


def sendable(record: dict[str, Any]) -> dict[str, Any]:
    """`record` as it can be sent: a spool written by an older version may hold what JSON cannot carry."""
    try:
        json.dumps(record, allow_nan=False, ensure_ascii=False).encode("utf-8")
        return record
    except (ValueError, TypeError):
        return clean(record)


# -- delivery ------------------------------------------------------------------------------------
_RETRYABLE = {401, 403, 404, 408, 409, 429}
# The service's limits on keys (settings; a 413 names the one it met): a smaller batch would meet them again.
_KEY_LIMITS = ("max_key_length", "max_keys_per_run")


@dataclass
class Delivered:
    """What one record did on the service; `decision` is set when the service answered with one."""

    kind: str
    rejected: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    decision: dict[str, Any] | None = None
    created: bool = False
    answer: dict[str, Any] | None = None  # a created run's body (its start advice, the service's stale_after)


def _json_object(r: httpx.Response) -> dict[str, Any] | None:
    try:
        data = r.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _check(r: httpx.Response) -> str | None:
    """None when taken; a reason when refused for good (a 4xx a retry cannot fix); raises otherwise."""
    if 300 <= r.status_code < 400:
        # httpx does not follow redirects, and a write must not: the URL points elsewhere (http for https, a
        # missing path). Kept and retried, as when the service is down, and said how to fix it.
        where = r.headers.get("location", "?")
        raise Unreachable(f"HTTP {r.status_code} redirect to {where}: give the service's own URL")
    if r.status_code >= 500 or r.status_code in _RETRYABLE:
        # A missing or wrong token is kept and retried (a token may be created meanwhile); say how to fix it.
        hint = "; set LOSSWATCH_TOKEN (or token=) to a token from `losswatch token create`"
        hint = hint if r.status_code == 401 else ""
        raise Unreachable(f"HTTP {r.status_code}: {r.text[:200]}{hint}")
    if r.status_code >= 400:
        return f"HTTP {r.status_code}: {r.text[:300]}"
    return None


def deliver(http: httpx.Client, record: dict[str, Any], runs: dict[str, dict[str, Any]]) -> Delivered:
    """Send one record. `runs` maps run ids to their creation bodies seen so far, so a run missing on
    the service (404) is created again before its data. Raises Unreachable for what a retry may fix."""
    if not isinstance(record, dict):
        # A line of valid JSON that is no record (a list, a number): refused for good, as a torn line is.
        return Delivered("?", rejected=f"a record that is not a JSON object ({type(record).__name__})")
    kind = record.get("kind", "?")
    try:
        if kind != "metrics":  # a metrics record is made sendable as it is encoded, once (_send)
            record = sendable(record)
        if kind == "run":
            body = record["run"]
            runs[body["id"]] = body
            r = http.post("/api/v1/runs", json=body)
            out = Delivered(kind, rejected=_check(r), created=r.status_code == 201)
            if out.rejected is None:
                out.answer = _json_object(r)
            return out
        if kind in ("metrics", "rewind", "status", "checkpoint"):
            return _deliver_to_run(http, kind, record, runs)
        if kind == "torn":
            return Delivered(kind, rejected="a torn or unreadable line")
        return Delivered(kind, rejected=f"unknown record kind {kind!r}")
    except httpx.HTTPError as exc:
        raise Unreachable(f"{exc.__class__.__name__}: {exc}") from exc
    except (KeyError, TypeError) as exc:
        return Delivered(kind, rejected=f"malformed record ({exc})")


def _deliver_to_run(
    http: httpx.Client, kind: str, record: dict[str, Any], runs: dict[str, dict[str, Any]]
) -> Delivered:
    """A record for one run. A metrics record the service finds too much to take at once (413) goes again in
    halves, and one it refuses (422, or 413 down to a single step) key by key, so one bad key does not cost the
    losses beside it. Each part has an id derived from the record's, so a retry after a partial delivery doubles
    nothing."""
    run_id = record.get("run_id")
    if not is_run_id(run_id):
        # No service can ever hold it: refused for good, not retried forever (a 404 otherwise is retried).
        return Delivered(kind, rejected=f"a {kind} record without a valid run id ({run_id!r})")
    r = _send(http, kind, record)
    if r.status_code == 404 and run_id in runs:
        _check(http.post("/api/v1/runs", json=runs[run_id]))
        r = _send(http, kind, record)
    if kind == "metrics" and r.status_code in (413, 422):
        body: dict[str, Any] = {k: record[k] for k in ("points", "series") if k in record}
        # Too much at once (413) goes in halves by step, so the points still arrive in step order; what cannot be
        # halved further, a refusal (422) and a limit on keys (a 413 that names it: halves would meet it again at
        # every step) go key by key: one bad key then costs only its own points.
        per_key = r.status_code == 422 or any(name in r.text for name in _KEY_LIMITS)
        halves = None if per_key else halve(body)
        parts_bodies, mark = (halves, "") if halves is not None else (by_key(body), "k")
        if parts_bodies is not None:
            rest = {k: v for k, v in record.items() if k not in ("points", "series")}
            parts = [
                _deliver_to_run(http, kind, {**rest, **part, "batch_id": f"{record['batch_id']}.{mark}{i}"}, runs)
                for i, part in enumerate(parts_bodies, start=1)
            ]
            return _merged(kind, parts)
    rejected = _check(r)
    out = Delivered(kind, rejected=rejected)
    if rejected is None and kind in ("metrics", "rewind"):
        data = _json_object(r)
        if data is None:
            # Taken by something that is not losswatch (a redirect's target, a proxy's page): fail open, as for a
            # 5xx, rather than take it as delivered and wait for a decision that never comes.
            raise Unreachable(f"HTTP {r.status_code} with an answer that is not losswatch's: {r.text[:120]!r}")
        decision = data.get("decision")
        out.decision = decision if isinstance(decision, dict) else None
        out.counts = {k: int(data.get(k, 0)) for k in ("accepted", "duplicates", "overwritten", "deleted") if k in data}
        if data.get("replayed"):
            out.counts["replayed"] = 1
    return out


def _merged(kind: str, parts: list[Delivered]) -> Delivered:
    """One record's outcome from its halves': counts summed, the last decision, the first refusal."""
    out = Delivered(kind)
    for part in parts:
        for k, v in part.counts.items():
            out.counts[k] = out.counts.get(k, 0) + v
        out.decision = part.decision or out.decision
        out.rejected = out.rejected or part.rejected
    return out


def _send(http: httpx.Client, kind: str, record: dict[str, Any]) -> httpx.Response:
    run = f"/api/v1/runs/{record['run_id']}"
    if kind == "metrics":
        body: dict[str, Any] = {k: record[k] for k in ("points", "series") if k in record}
        if not body:
            raise KeyError("points or series")
        content = _encoded({**body, "batch_id": record["batch_id"]})
        return http.post(f"{run}/metrics", content=content, headers={"Content-Type": "application/json"})
    if kind == "rewind":
        return http.post(f"{run}/rewind", json={"step": record["step"], "rewind_id": record["rewind_id"]})
    if kind == "checkpoint":
        return http.patch(run, json={"best_checkpoint": record["best_checkpoint"]})
    return http.patch(run, json={"status": record["status"]})


@dataclass
class ReplayResult:
    records: int = 0
    rejected: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    left: int = 0


def replay(spool: Spool, http: httpx.Client) -> ReplayResult:
    """Deliver a spool's undelivered records in order, acking each; stop at the first retryable failure."""
    result = ReplayResult()
    runs: dict[str, dict[str, Any]] = {}
    for pos, record in spool.pending():
        try:
            d = deliver(http, record, runs)
        except Unreachable as exc:
            result.error = str(exc)
            result.left = sum(1 for _ in spool.pending())
            return result
        result.records += 1
        if d.rejected:
            result.rejected.append(f"{d.kind}: {d.rejected}")
        else:
            result.counts[d.kind] = result.counts.get(d.kind, 0) + 1
        for k, v in d.counts.items():
            result.counts[k] = result.counts.get(k, 0) + v
        spool.ack(pos)
    return result
