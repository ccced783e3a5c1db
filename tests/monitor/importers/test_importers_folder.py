"""One training output folder is one run: identity, configuration and end, however the log grows."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from losswatch.monitor.importers import read_log, upload
from losswatch.monitor.importers.upload import run_id_for
from tests.monitor.importers.test_importers_upload import FakeService


def lf_line(step: int, total: int = 40, **values: float) -> dict:
    return {"current_steps": step, "total_steps": total, "loss": 3.0 - step / 100, **values, "elapsed_time": f"{step}s"}


def write_log(folder: Path, steps: range, total: int = 40) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "trainer_log.jsonl"
    path.write_text("".join(json.dumps(lf_line(s, total)) + "\n" for s in steps))
    return path


def write_state(path: Path, steps: range, max_steps: int = 40) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    history = [{"step": s, "loss": 3.0 - s / 100, "epoch": s / 10} for s in steps]
    path.write_text(json.dumps({"log_history": history, "max_steps": max_steps, "logging_steps": 1}))
    return path


@pytest.fixture
def client():
    service = FakeService()
    with httpx.Client(base_url="http://losswatch.test", transport=httpx.MockTransport(service)) as c:
        c.service = service  # type: ignore[attr-defined]
        yield c


def test_every_file_of_a_folder_and_the_folder_are_one_run(tmp_path):
    out = tmp_path / "saves" / "llama" / "sft"
    write_log(out, range(1, 11))
    write_state(out / "checkpoint-10" / "trainer_state.json", range(1, 11))
    paths = [out, out / "trainer_log.jsonl", out / "checkpoint-10" / "trainer_state.json"]
    ids = {run_id_for(read_log(p), "p") for p in paths}
    assert len(ids) == 1
    write_state(out / "trainer_state.json", range(1, 21))  # the end of training adds the final state
    assert run_id_for(read_log(out), "p") in ids


def test_a_growing_log_keeps_its_run_and_a_new_training_in_the_folder_is_another(tmp_path):
    out = tmp_path / "out"
    first = run_id_for(read_log(write_log(out, range(1, 6))), "p")
    assert run_id_for(read_log(write_log(out, range(1, 30))), "p") == first
    # overwrite_output_dir: a new training starts the log again, with another first entry
    path = out / "trainer_log.jsonl"
    path.write_text(json.dumps({**lf_line(1), "elapsed_time": "0:00:02"}) + "\n")
    assert run_id_for(read_log(path), "p") != first
    assert run_id_for(read_log(write_log(tmp_path / "elsewhere", range(1, 6))), "p") != first


@pytest.mark.parametrize(
    ("steps", "end_files", "status"),
    [
        (range(1, 21), [], None),  # still growing
        (range(1, 41), [], "finished"),  # reached total_steps
        (range(1, 21), ["trainer_state.json", "all_results.json"], "stopped"),  # over before its last step
    ],
    ids=["running", "finished", "stopped-early"],
)
def test_status_says_when_the_training_is_over(tmp_path, steps, end_files, status):
    out = tmp_path / "out"
    write_log(out, steps)
    for name in end_files:
        if name == "trainer_state.json":
            write_state(out / name, steps)
        else:
            (out / name).write_text("{}")
    assert read_log(out).status == status


def test_config_from_llamafactory_files_uses_trainingarguments_names(tmp_path):
    out = tmp_path / "out"
    write_log(out, range(1, 5), total=300)
    (out / "llamaboard_config.yaml").write_text(
        "top.model_name: Llama-3\ntrain.batch_size: 2\ntrain.gradient_accumulation_steps: 8\n"
        "train.val_size: 0.1\ntrain.save_steps: 50\ntrain.warmup_steps: 3\ntrain.learning_rate: 5.0e-05\n"
    )
    config = read_log(out).config
    assert config["max_steps"] == 300
    assert config["per_device_train_batch_size"] == 2 and config["gradient_accumulation_steps"] == 8
    assert config["eval_strategy"] == "steps" and config["eval_steps"] == 50 and config["warmup_steps"] == 3
    # training_args.yaml holds the exact arguments and wins over the form
    (out / "training_args.yaml").write_text(
        "per_device_train_batch_size: 4\nwarmup_ratio: 0.1\neval_steps: 25\nmax_steps: -1\n"
        "lr_scheduler_type: cosine\ndataset: [a, b]\n"
    )
    config = read_log(out).config
    assert config["per_device_train_batch_size"] == 4 and config["eval_steps"] == 25
    assert config["warmup_ratio"] == 0.1 and config["lr_scheduler_type"] == "cosine"
    assert config["max_steps"] == 300  # -1 means "no limit" and hides nothing
    assert "dataset" not in config


def test_reimporting_a_growing_log_adds_only_its_new_points(tmp_path, client):
    out = tmp_path / "out"
    first = upload(read_log(write_log(out, range(1, 11))), client=client, project="p", progress=False)
    again = upload(read_log(write_log(out, range(1, 16))), client=client, project="p", progress=False)
    assert again["run_id"] == first["run_id"] and len(client.service.runs) == 1
    assert first["accepted"] == 10 and again["accepted"] == 5 and again["overwritten"] == 0
    assert again["status"] is None and "status" not in client.service.runs[first["run_id"]]
    done = upload(read_log(write_log(out, range(1, 41))), client=client, project="p", progress=False)
    assert done["accepted"] == 25 and client.service.runs[first["run_id"]]["status"] == "finished"


def test_a_follower_sends_only_what_changed(tmp_path, client):
    out = tmp_path / "out"
    sent: dict = {}
    upload(read_log(write_log(out, range(1, 11))), client=client, progress=False, sent=sent)
    result = upload(read_log(write_log(out, range(1, 13))), client=client, progress=False, sent=sent)
    batches = [body for path, body in client.service.requests if path.endswith("/metrics")]
    steps = {item["key"]: item["steps"] for item in batches[-1]["series"]}
    assert result["points"] == 2 and steps and all(s == [11, 12] for s in steps.values())
