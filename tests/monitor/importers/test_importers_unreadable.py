"""Inputs that are not training logs: UnreadableLog names the file and says what is wrong with it."""

from __future__ import annotations

import json

import pytest

from losswatch.monitor.errors import LossWatchError
from losswatch.monitor.importers import UnreadableLog, read_log

TRAINER_STATE = {"global_step": 20, "log_history": [{"step": 10, "loss": 1.0}, {"step": 20, "loss": 0.9}]}


def _write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


CASES = [
    # (id, file name, content or None for "do not create", words the reason must contain)
    ("missing", "trainer_state.json", None, "no such file or directory"),
    ("empty", "trainer_state.json", "", "the file is empty"),
    ("blank", "trainer_log.jsonl", "\n  \n", "the file is empty"),
    ("truncated-json", "trainer_state.json", json.dumps(TRAINER_STATE)[:40], "not valid JSON"),
    ("not-json", "notes.txt", "loss went down\n", "not valid JSON (Expecting value: line 1, column 1)"),
    ("no-log-history", "config.json", json.dumps({"global_step": 3}), "without log_history"),
    ("log-history-not-a-list", "trainer_state.json", json.dumps({"log_history": {}}), "no log_history list"),
    ("empty-log-history", "trainer_state.json", json.dumps({"log_history": []}), "log_history is empty"),
    (
        "log-history-without-metrics",
        "trainer_state.json",
        json.dumps({"log_history": [{"step": 1, "note": "x"}, {"loss": 1.0}]}),
        "no numeric metric",
    ),
    ("json-list", "trainer_state.json", json.dumps([1, 2]), "a JSON array at the top level"),
    ("json-nested-100k-deep", "trainer_state.json", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("binary", "trainer_state.json", b"\x89PNG\r\n\x1a\n\x00\xff", "not a UTF-8 text file"),
    (
        "jsonl-without-current-steps",
        "other.jsonl",
        '{"step": 1, "loss": 1.0}\n{"step": 2, "loss": 0.9}\n',
        "no line has current_steps",
    ),
    (
        "llamafactory-only-summaries",
        "trainer_log.jsonl",
        '{"current_steps": 5, "total_steps": 10, "percentage": 50.0}\n',
        "no line carries a numeric metric",
    ),
]


@pytest.mark.parametrize(("name", "content", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_unreadable_file(tmp_path, name, content, reason):
    path = tmp_path / name if content is None else _write(tmp_path, name, content)
    with pytest.raises(UnreadableLog) as caught:
        read_log(path)
    err = caught.value
    assert err.path == str(path)
    assert reason in err.reason
    assert str(err) == f"cannot read {path}: {err.reason}"
    # callers may catch the project's base error or a plain ValueError
    assert isinstance(err, LossWatchError) and isinstance(err, ValueError)


def test_empty_folder(tmp_path):
    with pytest.raises(UnreadableLog, match="nothing to import in this folder"):
        read_log(tmp_path)


def test_folder_with_several_tensorboard_runs(tmp_path, write_events):
    write_events(tmp_path / "runs" / "a", [(1.0, 1, "train/loss", 1.0)])
    write_events(tmp_path / "runs" / "b", [(1.0, 1, "train/loss", 1.0)])
    expected = "event files of 2 runs in this folder; import one of them: runs/a, runs/b"
    with pytest.raises(UnreadableLog, match=expected):
        read_log(tmp_path)


def test_events_file_without_scalars(tmp_path, write_events):
    path = write_events(tmp_path, [])
    with pytest.raises(UnreadableLog, match="no scalar summaries"):
        read_log(path)
