"""Fixtures of the importer tests: where the real curves live, and a TensorBoard event writer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests import curves

# An event to write: (wall_time, step, tag, value), or (wall_time, step, "START", None) for the
# SessionLog.START a restarted writer emits with purge_step (torch's SummaryWriter does that).
Event = tuple[float, int, str, float | None]


@pytest.fixture
def curves_dir() -> Path:
    return curves.require()


@pytest.fixture
def write_events() -> Callable[[Path, Sequence[Event]], Path]:
    """Write one events file into a folder, as one writer session would; returns the file."""
    pytest.importorskip("tensorboard")
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    def write(logdir: Path, events: Sequence[Event]) -> Path:
        logdir.mkdir(parents=True, exist_ok=True)
        before = set(logdir.iterdir())
        writer = EventFileWriter(str(logdir))
        for wall_time, step, tag, value in events:
            if tag == "START":
                session = event_pb2.SessionLog(status=event_pb2.SessionLog.START)
                writer.add_event(event_pb2.Event(wall_time=wall_time, step=step, session_log=session))
                continue
            summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])
            writer.add_event(event_pb2.Event(wall_time=wall_time, step=step, summary=summary))
        writer.close()
        (created,) = set(logdir.iterdir()) - before
        return created

    return write
