"""A plain HF training script that never imports losswatch: `losswatch run` attaches to it from outside.

Trains the tiny overfitting model with no periodic checkpoints and no load_best_model_at_end, then
writes what happened to OUT/result.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.tiny import overfitting_trainer  # noqa: E402


def main(out: Path, max_steps: int) -> None:
    trainer = overfitting_trainer(
        str(out / "train"),
        [],
        max_steps=max_steps,
        save_steps=1000,
        load_best_model_at_end=False,
        metric_for_best_model=None,
        save_total_limit=1,
    )
    trainer.train()
    evals = {h["step"]: h["eval_loss"] for h in trainer.state.log_history if "eval_loss" in h}
    result = {
        "step": trainer.state.global_step,
        "evals": evals,
        "final_eval_loss": trainer.evaluate()["eval_loss"],
        "callbacks": [type(cb).__name__ for cb in trainer.callback_handler.callbacks],
        "loaded_modules": sorted(m for m in sys.modules if m.startswith("losswatch")),
    }
    (out / "result.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
