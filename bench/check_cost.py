"""Stopping work per check, per policy: what `monitor/budget.py` estimates, measured.

Each policy replays an improving eval_loss (so nothing stops early) and the time per check is reported
next to the budget's estimate; the estimate must stay at or above the measurement for the bound to hold.
    python bench/check_cost.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine, write_section  # noqa: E402
from losswatch.monitor.budget import check_ms  # noqa: E402
from losswatch.monitor.policy import Policy  # noqa: E402
from losswatch.monitor.replay import replay  # noqa: E402

CASES: list[tuple[str, dict[str, object], int]] = [
    ("default", {}, 5000),
    ("best", {"rule": "best"}, 20000),
    ("window", {"rule": "window"}, 20000),
    ("hf", {"compat": "hf"}, 20000),
    ("lightning", {"compat": "lightning"}, 20000),
    ("trend, window 50", {"rule": "trend", "trend_window": 50}, 2000),
    ("trend, window 200", {"rule": "trend", "trend_window": 200}, 1200),
    ("trend, window 500", {"rule": "trend", "trend_window": 500}, 900),
    ("trend, window 1000", {"rule": "trend", "trend_window": 1000}, 1300),
]


def per_check_ms(policy: Policy, n: int) -> float:
    events = [(s, 1, policy.monitor, 1.0 / (1 + s)) for s in range(1, n + 1)]
    window = policy.trend_window if policy.rule == "trend" and policy.compat is None else 0
    start = time.perf_counter()
    replay(policy, events)
    # The checks before the window fills cost next to nothing: charge the time to the full ones.
    return (time.perf_counter() - start) * 1000 / max(n - window, 1)


def main() -> None:
    rows = []
    for name, fields, n in CASES:
        policy = Policy.model_validate(fields)
        if "compat" not in fields:
            policy = policy.model_copy(update={"patience": 10_000})
        measured = per_check_ms(policy, n)
        rows.append(f"| {name} | {n} | {measured:.3f} | {check_ms(policy):.3f} |")
        print(rows[-1], flush=True)
    body = "\n".join(
        [
            "## Stopping work per check (`bench/check_cost.py`)",
            "",
            f"{machine()}, load average {os.getloadavg()[0]:.1f} at the start (a shared machine: wall-clock per "
            "check grows with it); an improving eval_loss replayed, patience 10000 so nothing stops; per full check.",
            "",
            "| policy | checks | measured ms/check | budget's estimate |",
            "|---|---|---|---|",
            *rows,
        ]
    )
    write_section("check_cost", body)


if __name__ == "__main__":
    main()
