"""TensorBoard event files, written with the `tensorboard` package's protos and record framing (no torch).

Written synchronously and fsynced before a cursor moves, unlike TensorBoard's own async writer, so the
cursor never claims more than the disk holds.
"""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path

from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.plugins.text import metadata as text_metadata
from tensorboard.summary.writer.record_writer import RecordWriter

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


def safe_name(name: str) -> str:
    """A single path component: no separators, no dot-only names."""
    cleaned = _UNSAFE.sub("_", name).strip("._") or "run"
    return cleaned[:120]


def scalar(tag: str, step: int, value: float, wall_time: float) -> event_pb2.Event:
    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])
    return event_pb2.Event(wall_time=wall_time, step=step, summary=summary)


def text(tag: str, step: int, body: str, wall_time: float | None = None) -> event_pb2.Event:
    tensor = TensorProto(
        dtype="DT_STRING", string_val=[body.encode()], tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)])
    )
    meta = text_metadata.create_summary_metadata(display_name=tag, description="")
    value = summary_pb2.Summary.Value(tag=tag, metadata=meta, tensor=tensor)
    return event_pb2.Event(wall_time=wall_time or time.time(), step=step, summary=summary_pb2.Summary(value=[value]))


def purge(step: int) -> event_pb2.Event:
    """TensorBoard's restart marker: readers drop every event at `step` or later written before it."""
    return event_pb2.Event(
        wall_time=time.time(), step=step, session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START)
    )


class EventWriter:
    """One new event file in `folder`; named so files sort in the order they were opened."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.time_ns() // 1000
        self.path = folder / f"events.out.tfevents.{stamp:016d}.{safe_name(socket.gethostname())}.{os.getpid()}"
        self._file = open(self.path, "ab")
        self._records = RecordWriter(self._file)
        self.add(
            event_pb2.Event(
                wall_time=time.time(),
                file_version="brain.Event:2",
                source_metadata=event_pb2.SourceMetadata(writer="losswatch"),
            )
        )

    def add(self, event: event_pb2.Event) -> None:
        self._records.write(event.SerializeToString())

    def sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self.sync()
            self._file.close()
