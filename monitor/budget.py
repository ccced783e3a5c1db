"""What judging costs, so one request cannot hold the database (or a core) for half a minute.

A check of the `trend` rule fits a Theil-Sen slope over `trend_window` points, O(window^2); the other
rules are O(1). The estimates are milliseconds of one idle core (bench/check_cost.py writes the measured
numbers to bench/README.md): about 0.05 ms per check for `best`, `hf` and `lightning`, 0.1 ms for `window`,
1.2 ms + 5.6e-5 ms * window^2 for `trend` (58 ms at window 1000) and 16 ms for `forecast`; a loaded machine
takes longer, which the budget's own margin (2 s against a 10 s lock wait) absorbs.
A request whose checks would cost more than the budget is refused (413) before anything is written.
"""

from __future__ import annotations

from losswatch.monitor.errors import LimitExceeded
from losswatch.monitor.policy import Policy

SIMPLE_MS = 0.1
WINDOW_MS = 0.2
TREND_BASE_MS = 1.2
TREND_SQUARE_MS = 6e-5
# The default `forecast` rule fits learning curves at each check: 15 ms on an idle core here
# (bench/check_cost.py). Priced at that, a request may judge about 125 evaluations; the sender, `sync` and
# `import` send a batch refused for it (413) again in halves, so a long log still goes in whole.
FORECAST_MS = 16.0
# Storing one point (dedupe, summaries, the insert, the training-loss guard): bench/ingest.py stores about a
# million points a second in process, 1 µs each.
STORE_MS_PER_POINT = 0.001
# A point written over one already stored may displace the key's extremes, which are then read again from all of
# its stored points (monitor/store/summaries.recompute): 0.3 µs a stored point (30 ms for 100k, 300 ms for 1M).
RESCAN_MS_PER_POINT = 0.0003


def check_ms(policy: Policy) -> float:
    """Estimated milliseconds of one check of the monitored key under `policy`."""
    if policy.compat is None and policy.rule == "window":
        return WINDOW_MS
    if policy.compat is None and policy.rule == "forecast":
        return FORECAST_MS
    if policy.compat is not None or policy.rule != "trend":
        return SIMPLE_MS
    return TREND_BASE_MS + TREND_SQUARE_MS * policy.trend_window**2


def batch_ms(policy: Policy, checks: int, points: int) -> float:
    """Estimated milliseconds of storing `points` points of which `checks` are checks under `policy`."""
    return points * STORE_MS_PER_POINT + checks * check_ms(policy)


def afford(policy: Policy, checks: int, *, budget_ms: float | None, what: str) -> None:
    """Raise LimitExceeded when `checks` checks under `policy` exceed `budget_ms` (None: unbounded)."""
    if budget_ms is None or checks == 0:
        return
    per = check_ms(policy)
    if checks * per <= budget_ms:
        return
    most = max(int(budget_ms // per), 1)
    raise LimitExceeded(
        f"{what} needs {checks} checks of {policy.monitor!r} under this policy (rule {policy.rule!r}, "
        f"trend_window {policy.trend_window}), about {checks * per / 1000:.1f} s of work; one request may do "
        f"{budget_ms / 1000:.1f} s (max_check_ms), about {most} checks: send fewer points of {policy.monitor!r} "
        "per batch"
    )
