"""Delivery latency of notifications: from the decision to stop to the receiver holding the message.

A real `losswatch serve` (SQLite, one worker, loopback) and a real HTTP receiver on loopback. Each of N
runs gets one point past its `stopping_threshold`, so that batch's transaction records the stop and
queues a `stop` message for a generic webhook target; the receiver notes when the message arrives.
"decision -> receiver" is the arrival time minus the decision's `created_at` (same host, same clock);
"request -> receiver" starts when the trainer's POST leaves. Runs one at a time so every message is
measured alone; once with the default poll of the outbox (1 s) and once with 0.25 s (the earlier default),
which shows that the wake-up at commit, not the poll, delivers within the process.
    python bench/notify_latency.py [--runs 40]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine, start_server, write_section  # noqa: E402
from tests.receiver import Receiver  # noqa: E402


def measure(runs: int, poll: float) -> tuple[list[float], list[float]]:
    receiver = Receiver().start()
    data = Path(tempfile.mkdtemp(prefix="losswatch-bench-notify-"))
    proc, url = start_server(data, env={"LOSSWATCH_NOTIFY_POLL_SECONDS": str(poll)})
    from_decision, from_request = [], []
    try:
        with httpx.Client(base_url=url + "/api/v1", timeout=30) as c:
            target = {"kind": "webhook", "url": receiver.url(), "events": ["stop"]}
            c.put("/projects/bench/notifications", json={"targets": [target]}).raise_for_status()
            policy = {"monitor": "loss", "stopping_threshold": 0.5}
            for i in range(runs):
                rid = c.post("/runs", json={"name": f"r{i}", "project": "bench", "early_stopping": policy}).json()["id"]
                c.post(f"/runs/{rid}/metrics", json={"points": [{"key": "loss", "step": 1, "value": 2.0}]})
                sent = time.time()
                r = c.post(f"/runs/{rid}/metrics", json={"points": [{"key": "loss", "step": 2, "value": 0.1}]})
                assert r.json()["decision"]["should_stop"], r.text
                got = receiver.wait(i + 1, timeout=60)
                assert len(got) == i + 1, "a message did not arrive"
                decided = c.get(f"/runs/{rid}/decisions").json()["decisions"][-1]["created_at"]
                from_decision.append(got[-1]["at"] - decided)
                from_request.append(got[-1]["at"] - sent)
    finally:
        proc.terminate()
        proc.wait(30)
        receiver.stop()
    return from_decision, from_request


def row(name: str, xs: list[float]) -> str:
    ms = sorted(x * 1000 for x in xs)
    p90 = ms[min(len(ms) - 1, int(0.9 * len(ms)))]
    return f"| {name} | {statistics.median(ms):.0f} | {p90:.0f} | {ms[-1]:.0f} |"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=40)
    a = ap.parse_args()
    lines = [
        "## Notifications: delivery latency (`bench/notify_latency.py`)",
        "",
        f"{machine()}, load average {os.getloadavg()[0]:.1f} at start; `losswatch serve` (SQLite, 1 worker) and a "
        f"webhook receiver on loopback; {a.runs} runs, each stopped by one point past its `stopping_threshold`.",
        "",
        "| from | median ms | p90 ms | max ms |",
        "|---|---|---|---|",
    ]
    for poll in (1.0, 0.25):
        dec, req = measure(a.runs, poll)
        lines.append(row(f"decision -> receiver (poll {poll} s)", dec))
        lines.append(row(f"trainer's POST -> receiver (poll {poll} s)", req))
    lines += [
        "",
        "The message is queued in the stop's own transaction; the worker of the same process is woken when that",
        "transaction commits, so the poll interval (`LOSSWATCH_NOTIFY_POLL_SECONDS`, default 1) bounds only",
        "what other processes or replicas pick up (and retries). A poll four times as frequent (0.25 s, the",
        "default until the commit wake-up covered the worker's own process) delivers no sooner: the commit",
        "wake-up, not the poll, delivers; the longer poll saves an idle service 3 of its 4 outbox reads a second.",
    ]
    write_section("notify_latency", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
