"""A log that holds a resume (its steps go back to a checkpoint): the service forgets the abandoned branch
once, and reading the log again, or following it as it grows, changes nothing more."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from losswatch.monitor.importers import read_log, upload
from losswatch.monitor.importers.upload import Sent


def write(folder: Path, steps: range, loss: float) -> None:
    """trainer_log.jsonl lines as LLaMA-Factory writes them: a loss and a learning rate each step, an
    evaluation every 10 steps."""
    with open(folder / "trainer_log.jsonl", "a") as f:
        for s in steps:
            f.write(json.dumps({"current_steps": s, "total_steps": 200, "loss": loss - s / 1000, "lr": 1e-4}) + "\n")
            if s % 10 == 0:
                f.write(json.dumps({"current_steps": s, "total_steps": 200, "eval_loss": 2.0 + s / 1000}) + "\n")


def stored(api: httpx.Client, run_id: str, key: str) -> dict[int, float]:
    points = api.get(f"/runs/{run_id}/metrics/{key}", params={"smoothing": 0}).json()["points"]
    return {p["step"]: p["value"] for p in points}


@pytest.mark.parametrize("resumed_loss", [5.0, 3.0], ids=["other-values", "same-values"])
@pytest.mark.parametrize("follow", [True, False], ids=["followed-as-it-grows", "imported-again"])
def test_upload_of_a_resumed_log_forgets_the_abandoned_branch(
    live_server, tmp_path: Path, follow: bool, resumed_loss: float
) -> None:
    # The importer dropped the abandoned points from what it sent but never told the service, which kept
    # eval_loss at steps 110 and 120, evaluations of weights that no longer exist, and judged stops on them.
    folder = tmp_path / "train_2024"
    folder.mkdir()
    sent: Sent | None = {} if follow else None
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        write(folder, range(1, 101), 3.0)
        upload(read_log(folder), client=client, progress=False, sent=sent, end=False)
        for step in range(101, 121):  # followed step by step: a batch per step
            write(folder, range(step, step + 1), 3.0)
            upload(read_log(folder), client=client, progress=False, sent=sent, end=False)
        # Resumed from checkpoint-100; a deterministic run logs the same values again, whose one-step batches
        # matched ids the service had seen before the rewind deleted their points.
        for step in range(101, 106):
            write(folder, range(step, step + 1), resumed_loss)
            second = upload(read_log(folder), client=client, progress=False, sent=sent, end=False)
        third = upload(read_log(folder), client=client, progress=False, sent=sent, end=False)
    run_id = second["run_id"]
    with httpx.Client(base_url=live_server.url + "/api/v1", timeout=30) as api:
        loss, lr, evals = (stored(api, run_id, k) for k in ("loss", "learning_rate", "eval_loss"))
    assert sorted(loss) == list(range(1, 106)) and loss[103] == pytest.approx(resumed_loss - 0.103)
    # The same learning rate at 101..105 as before the resume: sent again, since the rewind deleted it.
    assert sorted(lr) == list(range(1, 106))
    assert sorted(evals) == list(range(10, 101, 10))
    assert third["accepted"] == third["overwritten"] == 0
