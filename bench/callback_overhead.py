"""Overhead of LossWatchCallback on Trainer.train(): a tiny GPT-2 logging every step, with vs without.

Runs alternate (with/without, then without/with) so drift hits both; the ratio is the median over
pairs. Measured with the service up and with nothing listening (every batch goes to the spool).
Also the p99 time of one on_log call, on the training thread.
    python bench/callback_overhead.py [--pairs 21] [--steps 200]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import free_port, machine, start_server, write_section  # noqa: E402
from losswatch.callbacks import LossWatchCallback  # noqa: E402
from tests.tiny import overfitting_trainer  # noqa: E402

logging.getLogger("losswatch").setLevel(logging.ERROR)


class TimedCallback(LossWatchCallback):
    """Records how long each on_log takes on the training thread."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.on_log_seconds: list[float] = []

    def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        super().on_log(args, state, control, logs=logs, **kwargs)
        self.on_log_seconds.append(time.perf_counter() - t0)


def one_run(tmp: Path, url: str | None, steps: int, on_log: list[float]) -> float:
    callbacks = []
    if url is not None:
        cb = TimedCallback(url=url, run_name="bench", early_stopping={"patience": 10000}, end_timeout=2.0)
        callbacks.append(cb)
    trainer = overfitting_trainer(
        str(tmp / f"out-{time.monotonic_ns()}"),
        callbacks,
        max_steps=steps,
        eval_strategy="no",
        save_strategy="no",
        load_best_model_at_end=False,
        logging_steps=1,
    )
    t0 = time.perf_counter()
    trainer.train()
    took = time.perf_counter() - t0
    if callbacks:
        on_log.extend(callbacks[0].on_log_seconds)
    return took


def ratios(tmp: Path, url: str, pairs: int, steps: int, on_log: list[float]) -> list[float]:
    out = []
    for i in range(pairs):
        if i % 2 == 0:
            with_cb = one_run(tmp, url, steps, on_log)
            without = one_run(tmp, None, steps, [])
        else:
            without = one_run(tmp, None, steps, [])
            with_cb = one_run(tmp, url, steps, on_log)
        out.append(with_cb / without)
        print(f"  pair {i}: with {with_cb:.2f}s, without {without:.2f}s, ratio {with_cb / without:.3f}", flush=True)
    return out


def p99(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(0.99 * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pairs", type=int, default=21)
    ap.add_argument("--steps", type=int, default=200)
    a = ap.parse_args()
    on_log_up: list[float] = []
    on_log_down: list[float] = []
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        one_run(tmp, None, 5, [])  # warm-up: imports, first-call costs
        proc, url = start_server(tmp / "data")
        try:
            print("service up")
            up = ratios(tmp, url, a.pairs, a.steps, on_log_up)
        finally:
            proc.terminate()
            proc.wait()
        print("service down")
        down = ratios(tmp, f"http://127.0.0.1:{free_port()}", a.pairs, a.steps, on_log_down)
    mu, md = statistics.median(up), statistics.median(down)
    body = (
        "## Callback overhead (`bench/callback_overhead.py`)\n\n"
        f"{machine()}; tiny GPT-2, {a.steps} steps logging every step, no evaluation or saving; "
        f"`train()` wall time with LossWatchCallback / without, alternating, median of {a.pairs} pairs. "
        "Goal: at most 1.05.\n\n"
        "| service | ratio (median) | ratios of the pairs | p99 of one on_log |\n|---|---|---|---|\n"
        f"| up | **{mu:.3f}** | {', '.join(f'{r:.3f}' for r in up)} | {p99(on_log_up) * 1e6:.0f} µs |\n"
        f"| down (all to the spool) | **{md:.3f}** | {', '.join(f'{r:.3f}' for r in down)} | "
        f"{p99(on_log_down) * 1e6:.0f} µs |\n"
    )
    write_section("callback", body)
    print(body)


if __name__ == "__main__":
    main()
