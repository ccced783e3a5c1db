"""Writes an output folder as LLaMA-Factory does, step by step: trainer_log.jsonl lines, then at the
end trainer_state.json and all_results.json. Its validation loss falls until step 20, then rises.

Like LLaMA-Factory's LogCallback, it handles SIGABRT only under LLAMABOARD_ENABLED (finish the step,
save, exit 0); otherwise SIGABRT kills it. The real LLaMA-Factory is tested in tests/llamafactory.
Usage: log_writer.py OUT_DIR TOTAL_STEPS SECONDS_PER_STEP
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

aborted = False


def abort(signum: int, frame: object) -> None:
    global aborted
    aborted = True


def main(out: Path, total: int, pace: float) -> None:
    if os.environ.get("LLAMABOARD_ENABLED", "").lower() in ("1", "true", "y"):
        signal.signal(signal.SIGABRT, abort)
    out.mkdir(parents=True, exist_ok=True)
    history = []
    with open(out / "trainer_log.jsonl", "a") as log:
        for step in range(1, total + 1):
            entries = [{"loss": 3.0 - step / 100}]
            if step % 5 == 0:
                entries.append({"eval_loss": 2.0 + ((step - 20) / 20) ** 2})
            for entry in entries:
                log.write(json.dumps({"current_steps": step, "total_steps": total, **entry}) + "\n")
                log.flush()
                history.append({"step": step, **entry})
            time.sleep(pace)
            if aborted:
                break
    state = {"global_step": step, "max_steps": total, "log_history": history}
    (out / "trainer_state.json").write_text(json.dumps(state))
    (out / "all_results.json").write_text(json.dumps({"epoch": 1.0}))
    print(f"saved at step {step}", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))
