"""Run by `torchrun --nproc_per_node 2` from test_hf_distributed.py: the tiny Trainer on gloo (CPU).

MODE "stop": rank 0 asks the service to stop at step 5. MODE "best": the callback keeps the best checkpoint
while the service's best moves only on a gain beyond min_delta, so a rank judging alone would save at other
evaluations than rank 0 (and the Trainer's save, a collective, would hang). Every rank writes where it stopped
and which checkpoints it saw to OUT/rank-<r>.json.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import httpx  # noqa: E402

from losswatch.callbacks import LossWatchCallback  # noqa: E402
from tests.callbacks.conftest import NEVER_STOP, AtStep  # noqa: E402
from tests.tiny import overfitting_trainer  # noqa: E402


def main(url: str, out: Path, mode: str) -> None:
    rank = int(os.environ["RANK"])
    if mode == "best":
        policy = {"patience": 3, "min_delta": 0.5, "compat": "lightning"}
        lw = LossWatchCallback(url=url, project="ddp", run_name="ddp-best", early_stopping=policy)
        trainer = overfitting_trainer(
            str(out / "train"),
            [lw],
            max_steps=40,
            eval_steps=5,
            save_steps=1000,
            load_best_model_at_end=False,
            learning_rate=1e-3,  # slow: each evaluation a little better, never by min_delta
        )
        trainer.eval_dataset = trainer.train_dataset  # what it memorises: the evaluations keep falling
    elif mode == "env-policy":
        # The policy comes from LOSSWATCH_EARLY_STOPPING (set by the test): rank 0's client reads it, and the other
        # ranks must read the same monitor for the best checkpoint, even one these evaluations lack.
        lw = LossWatchCallback(url=url, project="ddp", run_name="ddp-env")
        trainer = overfitting_trainer(
            str(out / "train"), [lw], max_steps=20, eval_steps=5, save_steps=1000, load_best_model_at_end=False
        )
    else:
        lw = LossWatchCallback(url=url, project="ddp", run_name="ddp", early_stopping=NEVER_STOP)

        def press_stop() -> None:
            if rank == 0:
                httpx.post(f"{url}/api/v1/runs/{lw.run_id}/stop", json={}).raise_for_status()

        trainer = overfitting_trainer(
            str(out / "train"),
            [lw, AtStep({5: press_stop}, every=lambda s: time.sleep(0.05))],
            max_steps=300,
            eval_steps=1000,
            save_steps=1000,
            logging_steps=1,
        )
    trainer.train()
    losses = {h["step"]: h["loss"] for h in trainer.state.log_history if "loss" in h}
    _leave_the_group()
    (out / f"rank-{rank}.json").write_text(
        json.dumps(
            {
                "step": trainer.state.global_step,
                "run_id": lw.run_id,
                "losses": losses,
                "stopped_at": lw.stopped_at,
                "best": trainer.state.best_model_checkpoint,
            }
        )
    )


def _leave_the_group() -> None:
    """Every rank leaves the process group together before the interpreter exits, as PyTorch asks of a script.
    Left to interpreter shutdown, gloo's threads were once torn down mid-exit on a loaded machine (rank 1 aborted
    with "terminate called without an active exception" after training had ended); a rank still waiting in a
    collective the others never joined hangs here instead, which the tests' timeout catches."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), sys.argv[3])
