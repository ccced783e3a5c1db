"""Mirrors: ingest latency with mirrors on vs off, and how long a 3,500-point run takes to be fully mirrored.

Ingest: a trainer-like client posts a 3,500-step run (loss and learning rate every step, eval_loss every 50)
in batches of 20 points; latency per request, median of the rounds' medians. "On" is a server whose runs
mirror to TensorBoard and W&B (offline), the worker polling at the service default (1 s; --poll to change).
Mirror time: from the last ingest of a finished 3,500-point run to its mirror being in sync, one target at a time.
    python bench/mirror_ingest.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine, start_server, write_section  # noqa: E402

STEPS = 3500
BATCH = 20


def rows(steps: int = STEPS, lr: bool = True, evals: bool = True) -> list[dict]:
    out = []
    for s in range(1, steps + 1):
        out.append({"key": "loss", "step": s, "value": 2.0 / (1 + s / 500)})
        if lr:
            out.append({"key": "learning_rate", "step": s, "value": 5e-5 * (1 - s / (steps + 1))})
        if evals and s % 50 == 0:
            out.append({"key": "eval_loss", "step": s, "value": 1.5 / (1 + s / 700)})
    return out


def ingest_latencies(url: str, mirrors: list[str]) -> list[float]:
    with httpx.Client(base_url=url, timeout=60) as c:
        rid = c.post("/api/v1/runs", json={"name": "bench-mirrors", "mirrors": mirrors}).json()["id"]
        pts = rows()
        lat = []
        for i in range(0, len(pts), BATCH):
            t0 = time.perf_counter()
            c.post(f"/api/v1/runs/{rid}/metrics", json={"points": pts[i : i + BATCH]}).raise_for_status()
            lat.append(time.perf_counter() - t0)
        c.patch(f"/api/v1/runs/{rid}", json={"status": "finished"})
        return lat


def time_to_mirror(url: str, target: str) -> float:
    with httpx.Client(base_url=url, timeout=60) as c:
        rid = c.post("/api/v1/runs", json={"name": f"bench-{target}", "mirrors": [target]}).json()["id"]
        pts = rows(lr=False, evals=False)
        for i in range(0, len(pts), 1000):
            c.post(f"/api/v1/runs/{rid}/metrics", json={"points": pts[i : i + 1000]}).raise_for_status()
        c.patch(f"/api/v1/runs/{rid}", json={"status": "finished"})
        t0 = time.perf_counter()
        while True:
            [m] = c.get(f"/api/v1/runs/{rid}").json()["mirror_state"]
            if m["in_sync"]:
                return time.perf_counter() - t0
            if m["last_error"]:
                raise RuntimeError(m["last_error"])
            time.sleep(0.02)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--poll", type=float, default=1.0)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "WANDB_MODE": "offline",
            "WANDB_DIR": str(Path(tmp) / "wandb"),
            "WANDB_SILENT": "true",
            "LOSSWATCH_MIRROR_POLL_SECONDS": str(a.poll),
        }
        (Path(tmp) / "wandb").mkdir()
        proc, url = start_server(Path(tmp) / "data", env=env)
        try:
            off, on = [], []
            for _ in range(a.rounds):
                off.append(statistics.median(ingest_latencies(url, [])))
                on_lat = ingest_latencies(url, ["tensorboard", "wandb"])
                on.append(statistics.median(on_lat))
            tb = [time_to_mirror(url, "tensorboard") for _ in range(a.rounds)]
            wb = [time_to_mirror(url, "wandb") for _ in range(a.rounds)]
        finally:
            proc.terminate()
            proc.wait()
    o, n = statistics.median(off) * 1000, statistics.median(on) * 1000
    body = (
        f"## Mirrors (`bench/mirror_ingest.py`)\n\n{machine()}; a {STEPS}-step run (loss, learning_rate every "
        f"step, eval_loss every 50: {len(rows())} points) posted in batches of {BATCH}; medians over "
        f"{a.rounds} rounds; W&B offline; worker poll {a.poll:g} s.\n\n"
        f"| ingest request latency | ms |\n|---|---|\n| mirrors off | {o:.2f} |\n"
        f"| mirrors on (TensorBoard + W&B) | {n:.2f} |\n| **ratio on/off** (goal ≤ 1.2) | **{n / o:.2f}** |\n\n"
        f"| a finished {STEPS}-point run, ingest done → mirror in sync | seconds |\n|---|---|\n"
        f"| TensorBoard | {statistics.median(tb):.2f} |\n| W&B (offline, includes `wandb.init` and `finish`) | "
        f"{statistics.median(wb):.2f} |\n"
    )
    write_section("mirrors", body)
    print(body)


if __name__ == "__main__":
    main()
