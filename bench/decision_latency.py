"""Decision latency on a run holding 1M points vs one holding 1k: the decision must cost O(new points), not O(history).

Both runs log `loss` at every step and `eval_loss` every 100 steps (still improving, so neither run stops), under the
service's default policy. Measured, interleaved between the two runs: the POST of one new `eval_loss` point (whose
response carries the decision) and `GET /runs/{id}/decision`; median of many, one keep-alive connection.
    python bench/decision_latency.py [--big 1000000] [--small 1000] [--samples 200]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine, start_server, write_section  # noqa: E402

EVAL_EVERY = 100


def eval_loss(step: int) -> float:
    # Falling 2% per evaluation: clearly improving under the default (trend) policy, so the run keeps training.
    return 2.0 * math.exp(-0.02 * step / EVAL_EVERY)


def chunk(start: int, end: int) -> list[dict]:
    pts = [
        {"key": "loss", "step": s, "value": 2.0 * math.exp(-s / 300_000) + 0.05 * math.sin(s)}
        for s in range(start, end)
    ]
    return pts + [
        {"key": "eval_loss", "step": s, "value": eval_loss(s)} for s in range(start, end) if s % EVAL_EVERY == 0
    ]


def make_run(c: httpx.Client, name: str, n: int) -> str:
    rid = c.post("/runs", json={"name": name}).json()["id"]
    for start in range(0, n, 10_000):
        c.post(f"/runs/{rid}/metrics", json={"points": chunk(start, min(n, start + 10_000))}).raise_for_status()
    return rid


def post_eval(c: httpx.Client, rid: str, step: int) -> float:
    t = time.perf_counter()
    r = c.post(f"/runs/{rid}/metrics", json={"points": [{"key": "eval_loss", "step": step, "value": eval_loss(step)}]})
    dt = time.perf_counter() - t
    r.raise_for_status()
    if r.json()["decision"]["should_stop"]:
        raise RuntimeError(f"run {rid} was told to stop; the benchmark expects a run still training")
    return dt


def get_decision(c: httpx.Client, rid: str) -> float:
    t = time.perf_counter()
    r = c.get(f"/runs/{rid}/decision")
    dt = time.perf_counter() - t
    r.raise_for_status()
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--big", type=int, default=1_000_000, help="loss points in the big run")
    ap.add_argument("--small", type=int, default=1_000, help="loss points in the small run")
    ap.add_argument("--samples", type=int, default=200)
    a = ap.parse_args()
    loadavg = os.getloadavg()[0]  # others' work on the machine moves absolute numbers
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(Path(tmp) / "data", log=Path(tmp) / "server.log")
        try:
            with httpx.Client(base_url=url + "/api/v1", timeout=120) as c:
                runs = {
                    "small": (make_run(c, "bench-small", a.small), a.small),
                    "big": (make_run(c, "bench-big", a.big), a.big),
                }
                stored = {
                    k: sum(x["count"] for x in c.get(f"/runs/{rid}/metrics").json()["keys"])
                    for k, (rid, _) in runs.items()
                }
                post: dict[str, list[float]] = {"small": [], "big": []}
                get: dict[str, list[float]] = {"small": [], "big": []}
                for i in range(a.samples + 10):  # the first 10 warm up
                    for k, (rid, n) in runs.items():
                        step = n + EVAL_EVERY * (i + 1)
                        p, g = post_eval(c, rid, step), get_decision(c, rid)
                        if i >= 10:
                            post[k].append(p)
                            get[k].append(g)
        finally:
            proc.terminate()
            proc.wait()
    ms = {
        f"{what}-{k}": 1000 * statistics.median(v) for what, d in (("post", post), ("get", get)) for k, v in d.items()
    }
    body = (
        f"## Decision latency: {a.big:,} logged steps vs {a.small:,} (`bench/decision_latency.py`)\n\n"
        f"{machine()}, load average {loadavg:.1f} at start;\n"
        f"`losswatch serve` on SQLite, default policy; runs with `loss` at every step and `eval_loss` "
        f"every {EVAL_EVERY} steps ({stored['small']:,} and {stored['big']:,} stored points); median of "
        f"{a.samples} interleaved requests after 10 warm-up.\n\n"
        f"| request | {a.small:,}-step run (ms) | {a.big:,}-step run (ms) | **ratio** (goal ≤ 2×) |\n"
        f"|---|---|---|---|\n"
        f"| POST one `eval_loss` point (returns the decision) | {ms['post-small']:.2f} | {ms['post-big']:.2f} | "
        f"**{ms['post-big'] / ms['post-small']:.2f}×** |\n"
        f"| GET `/runs/{{id}}/decision` | {ms['get-small']:.2f} | {ms['get-big']:.2f} | "
        f"**{ms['get-big'] / ms['get-small']:.2f}×** |\n"
    )
    write_section("decision_latency", body)
    print(body)


if __name__ == "__main__":
    main()
