"""Details of each format on small files: which fields are metrics, which are config, which are skipped."""

from __future__ import annotations

import json
from typing import Any

from losswatch.monitor.importers import read_log


def _jsonl(path, rows, tail=""):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + tail)
    return path


def test_llamafactory_keys_nulls_and_summary(tmp_path):
    rows = [
        {
            "current_steps": 5,
            "total_steps": 20,
            "loss": 2.0,
            "learning_rate": 1e-5,
            "grad_norm": 3.5,
            "epoch": 0.25,
            "percentage": 25.0,
            "elapsed_time": "0:01:00",
            "remaining_time": "0:03:00",
        },
        {"current_steps": 10, "total_steps": 20, "loss": None, "eval_loss": 1.8, "lr": None, "epoch": 0.5},
        {"current_steps": 15, "total_steps": 20, "loss": 1.5, "lr": 5e-6, "epoch": 0.75, "throughput": 812.5},
        {"train_runtime": 99.0, "train_loss": 1.7},  # LLaMA-Factory-style final summary: no step
    ]
    log = read_log(_jsonl(tmp_path / "trainer_log.jsonl", rows, tail='{"current_steps": 20, "lo'))
    assert log.source_format == "llamafactory_trainer_log"
    assert log.counts() == {
        "epoch": 3,
        "eval_loss": 1,
        "grad_norm": 1,
        "learning_rate": 2,
        "loss": 2,
        "throughput": 1,
    }
    assert [(p.step, p.value) for p in log.series("learning_rate")] == [(5, 1e-5), (15, 5e-6)]
    assert log.config == {"total_steps": 20, "max_steps": 20}
    assert log.name == tmp_path.name  # "trainer_log" says nothing; the folder does
    assert log.notes == [
        "skipped 2 null values (learning_rate×1, loss×1)",
        "skipped 1 line without current_steps (summaries, not steps)",
        "skipped 1 line not holding a JSON object with a whole-number current_steps "
        "(a run killed mid-write truncates its last line); first at line 5",
    ]


def test_hf_state_metrics_and_config(tmp_path):
    state: dict[str, Any] = {
        "global_step": 20,
        "max_steps": 20,
        "logging_steps": 10,
        "eval_steps": 20,
        "save_steps": 20,
        "train_batch_size": 8,
        "best_metric": None,
        "best_model_checkpoint": None,
        "stateful_callbacks": {"TrainerControl": {"args": {}}},
        "log_history": [
            {"epoch": 0.5, "grad_norm": 1.2, "learning_rate": 2e-5, "loss": 1.0, "step": 10},
            {"epoch": 1.0, "grad_norm": 1.1, "learning_rate": 1e-5, "loss": 0.8, "step": 20},
            {"epoch": 1.0, "eval_loss": 0.9, "eval_accuracy": 0.7, "eval_runtime": 3.2, "step": 20},
            {"epoch": 1.0, "step": 20, "train_runtime": 30.0, "train_loss": 0.9, "total_flos": 1e12},
            {"note": "entry without a step"},
        ],
    }
    path = tmp_path / "run-7" / "checkpoint-20" / "trainer_state.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(state))
    log = read_log(path)
    assert log.source_format == "hf_trainer_state"
    assert log.name == "run-7/checkpoint-20"
    assert log.config == {
        "global_step": 20,
        "max_steps": 20,
        "logging_steps": 10,
        "eval_steps": 20,
        "save_steps": 20,
        "train_batch_size": 8,
        "per_device_train_batch_size": 8,  # under the TrainingArguments name the advice reads
    }
    assert log.status == "finished"  # its last step is the planned one
    assert log.counts() == {
        "epoch": 2,
        "eval_accuracy": 1,
        "eval_loss": 1,
        "eval_runtime": 1,
        "grad_norm": 2,
        "learning_rate": 2,
        "loss": 2,
        "total_flos": 1,
        "train_loss": 1,
        "train_runtime": 1,
    }
    assert log.notes == [
        "collapsed 2 repeated points (same key, step and value)",
        "skipped 1 log_history entry without a whole-number step",
    ]


def test_folder_prefers_trainer_state_over_trainer_log(tmp_path):
    (tmp_path / "trainer_state.json").write_text(json.dumps({"log_history": [{"step": 1, "loss": 1.0}]}))
    _jsonl(tmp_path / "trainer_log.jsonl", [{"current_steps": 1, "loss": 2.0}])
    log = read_log(tmp_path)
    assert log.source_format == "hf_trainer_state"
    assert log.notes[0] == "read trainer_state.json of the folder"
    (tmp_path / "trainer_state.json").unlink()
    assert read_log(tmp_path).source_format == "llamafactory_trainer_log"


def test_single_line_trainer_log_and_bom(tmp_path):
    path = tmp_path / "trainer_log.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"current_steps": 3, "loss": 1.25}).encode())
    log = read_log(str(path))
    assert [(p.key, p.step, p.value) for p in log.points] == [("loss", 3, 1.25)]


def test_fingerprint_follows_content(tmp_path):
    a = _jsonl(tmp_path / "a.jsonl", [{"current_steps": 1, "loss": 1.0}])
    b = _jsonl(tmp_path / "b.jsonl", [{"current_steps": 1, "loss": 1.0}])
    c = _jsonl(tmp_path / "c.jsonl", [{"current_steps": 1, "loss": 1.5}])
    assert read_log(a).fingerprint == read_log(b).fingerprint != read_log(c).fingerprint
