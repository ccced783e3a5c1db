"""Decision latency on a run holding 1M points vs one holding 1k: the decision must cost O(new points), not O(history).

Two policies, each on a small and a big run that log `loss` at every step and `eval_loss` every 100 steps (still
improving, so no run stops):
- the service's default policy (monitors `eval_loss`): POST one new `eval_loss` point;
- a training-loss monitor with smoothing, `{"monitor": "loss", "rule": "best", "patience": 10000, "smoothing": 0.6}`
  (what a run without an evaluation set uses, and where series are longest): POST one new `loss` point.
The POST's response carries the decision. Also `GET /runs/{id}/decision` on the default-policy runs. Requests are
interleaved between the runs; median of many, one keep-alive connection. The runs are loaded in columnar batches.
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
LOSS_MONITOR = {"monitor": "loss", "rule": "best", "patience": 10000, "smoothing": 0.6}


def eval_loss(step: int) -> float:
    # Falling 2% per evaluation: clearly improving under the default (trend) policy, so the run keeps training.
    return 2.0 * math.exp(-0.02 * step / EVAL_EVERY)


def loss(step: int) -> float:
    return 2.0 * math.exp(-step / 300_000) + 0.05 * math.sin(step)


def chunk(start: int, end: int) -> list[dict]:
    steps = list(range(start, end))
    evals = [s for s in steps if s % EVAL_EVERY == 0]
    return [
        {"key": "loss", "steps": steps, "values": [loss(s) for s in steps]},
        {"key": "eval_loss", "steps": evals, "values": [eval_loss(s) for s in evals]},
    ]


LOAD_CHUNK = 10_000


def make_run(c: httpx.Client, name: str, n: int, policy: dict | None) -> str:
    body: dict = {"name": name}
    if policy is not None:
        body["early_stopping"] = policy
    rid = c.post("/runs", json=body).json()["id"]
    # 10,000 steps hold 100 evaluations: under the default policy about 1.6 s of judging, within what one
    # request may do (max_check_ms); a larger chunk is refused with 413, as any client's would be.
    for start in range(0, n, LOAD_CHUNK):
        c.post(f"/runs/{rid}/metrics", json={"series": chunk(start, min(n, start + LOAD_CHUNK))}).raise_for_status()
    return rid


def post_one(c: httpx.Client, rid: str, key: str, step: int) -> float:
    value = eval_loss(step) if key == "eval_loss" else loss(step)
    t = time.perf_counter()
    r = c.post(f"/runs/{rid}/metrics", json={"points": [{"key": key, "step": step, "value": value}]})
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
    ap.add_argument("--big", type=int, default=1_000_000, help="loss points in the big runs")
    ap.add_argument("--small", type=int, default=1_000, help="loss points in the small runs")
    ap.add_argument("--samples", type=int, default=200)
    a = ap.parse_args()
    loadavg = os.getloadavg()[0]  # others' work on the machine moves absolute numbers
    sizes = {"small": a.small, "big": a.big}
    cases = {"eval": ("eval_loss", None), "loss": ("loss", LOSS_MONITOR)}
    times: dict[tuple[str, str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(Path(tmp) / "data", log=Path(tmp) / "server.log")
        try:
            with httpx.Client(base_url=url + "/api/v1", timeout=300) as c:
                runs = {
                    (case, size): make_run(c, f"bench-{case}-{size}", n, policy)
                    for case, (_, policy) in cases.items()
                    for size, n in sizes.items()
                }
                stored = {
                    size: sum(x["count"] for x in c.get(f"/runs/{runs['eval', size]}/metrics").json()["keys"])
                    for size in sizes
                }
                for i in range(a.samples + 10):  # the first 10 warm up
                    for (case, size), rid in runs.items():
                        step = sizes[size] + EVAL_EVERY * (i + 1)
                        p = post_one(c, rid, cases[case][0], step)
                        g = get_decision(c, rid) if case == "eval" else None
                        if i >= 10:
                            times.setdefault(("post", case, size), []).append(p)
                            if g is not None:
                                times.setdefault(("get", case, size), []).append(g)
        finally:
            proc.terminate()
            proc.wait()
    ms = {k: 1000 * statistics.median(v) for k, v in times.items()}

    def row(label: str, what: str, case: str) -> str:
        small, big = ms[what, case, "small"], ms[what, case, "big"]
        return f"| {label} | {small:.2f} | {big:.2f} | **{big / small:.2f}×** |\n"

    body = (
        f"## Decision latency: {a.big:,} logged steps vs {a.small:,} (`bench/decision_latency.py`)\n\n"
        f"{machine()}, load average {loadavg:.1f} at start;\n"
        f"`losswatch serve` on SQLite; runs with `loss` at every step and `eval_loss` every {EVAL_EVERY} steps "
        f"({stored['small']:,} and {stored['big']:,} stored points), loaded in columnar batches; median of "
        f"{a.samples} interleaved requests after 10 warm-up.\n\n"
        f"| request | {a.small:,}-step run (ms) | {a.big:,}-step run (ms) | **ratio** (goal ≤ 2×) |\n"
        f"|---|---|---|---|\n"
        + row("default policy: POST one `eval_loss` point (returns the decision)", "post", "eval")
        + row("default policy: GET `/runs/{id}/decision`", "get", "eval")
        + row(
            "`loss` monitor, rule best, patience 10000, smoothing 0.6: POST one `loss` point (returns the decision)",
            "post",
            "loss",
        )
    )
    write_section("decision_latency", body)
    print(body)


if __name__ == "__main__":
    main()
