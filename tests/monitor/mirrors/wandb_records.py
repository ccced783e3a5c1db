"""Reading W&B's offline run file (`run-<id>.wandb`) with wandb's own protobuf `Record`s.

wandb ships no public reader, so the framing is read here: a 7-byte file header (":W&B", magic 0xBEE1,
version 0), then LevelDB-log records in 32 KiB blocks, each with a CRC-32 over its type and payload.
"""

from __future__ import annotations

import json
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2 as pb

BLOCK = 32768
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def payloads(path: Path) -> Iterator[bytes]:
    data = path.read_bytes()
    ident, magic, version = struct.unpack("<4sHB", data[:HEADER])
    assert (ident, magic, version) == (b":W&B", 0xBEE1, 0), f"not a W&B run file: {path}"
    pos, pending = HEADER, b""
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:
            pos += left
            continue
        crc, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        if kind == 0 and length == 0:
            pos += left
            continue
        chunk = data[pos + HEADER : pos + HEADER + length]
        assert zlib.crc32(chunk, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF == crc, f"bad CRC in {path} at {pos}"
        pos += HEADER + length
        if kind == FULL:
            yield chunk
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        elif kind == LAST:
            yield pending + chunk


def records(path: Path) -> Iterator[Any]:  # wandb_internal_pb2.Record: generated, untyped
    for raw in payloads(path):
        record = pb.Record()  # type: ignore[attr-defined]
        record.ParseFromString(raw)
        yield record


def run_files(wandb_dir: Path, run_id: str, *, timeout: float = 60.0) -> list[Path]:
    """The run's offline files, oldest first, once the newest is finished.

    `run.finish()` returns when wandb's service has handled the exit record, but the service writes the
    file's last block only when it closes the stream, a moment later and in its own process (a CI run
    read 236 of 250 steps). A finished file ends with the exit record; an older file may never be
    finished (its process was killed), so only the newest is waited for.
    """
    files = sorted(wandb_dir.glob(f"wandb/offline-run-*-{run_id}/run-{run_id}.wandb"))
    deadline = time.monotonic() + timeout
    while files and not finished(files[-1]):
        assert time.monotonic() < deadline, f"{files[-1]} has no exit record after {timeout:.0f} s"
        time.sleep(0.05)
    return files


def finished(path: Path) -> bool:
    try:
        kinds = [r.WhichOneof("record_type") for r in records(path)]
    except AssertionError:  # read while the service was writing a block: a torn tail
        return False
    return kinds[-1:] == ["exit"]


def history(wandb_dir: Path, run_id: str, files: list[Path] | None = None) -> dict[int, dict[str, float]]:
    """Every history row of the run's offline files (all of them unless `files` are named), merged by training
    step (`train/global_step`, the x-axis the mirror logs every metric against), user keys only."""
    out: dict[int, dict[str, float]] = {}
    for path in files if files is not None else run_files(wandb_dir, run_id):
        for r in records(path):
            if r.WhichOneof("record_type") != "history":
                continue
            row = {(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in r.history.item}
            step = int(row.pop("train/global_step"))
            out.setdefault(step, {}).update({k: float(v) for k, v in row.items() if not k.startswith("_")})
    return out


def of_type(wandb_dir: Path, run_id: str, kind: str) -> list[Any]:
    return [r for path in run_files(wandb_dir, run_id) for r in records(path) if r.WhichOneof("record_type") == kind]
