"""The stopping state carries what the next check needs: fed in batches and saved as JSON between them (as ingest
does), it decides exactly what one pass over the whole series decides, and its size does not grow with the series."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from losswatch.monitor.policy import Decision, Policy
from losswatch.monitor.replay import replay
from losswatch.monitor.stopping import Stopper, StopState


def falling(n: int, seed: int, noise: float = 0.05) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(2.0 * np.exp(-np.arange(n) / (n / 4)) + 0.5 + rng.normal(0, noise, n))


def u_turn(n: int, seed: int) -> list[float]:
    x = falling(n, seed, 0.01)
    return x[: n // 2] + [x[n // 2] + 0.002 * i for i in range(n - n // 2)]


def with_nan(n: int, seed: int) -> list[float]:
    x = falling(n, seed)
    x[n * 2 // 3] = math.nan
    return x


SEQUENCES = {"falling": falling(400, 1), "u-turn": u_turn(300, 2), "nan-late": with_nan(300, 3), "flat": [1.0] * 120}

POLICIES: dict[str, dict[str, Any]] = {
    "default": {},
    "best-smoothed": {"rule": "best", "patience": 20, "smoothing": 0.6, "min_delta": 0.0, "delta_mode": "abs"},
    "loss-monitor-long-patience": {"monitor": "loss", "rule": "best", "patience": 10000, "smoothing": 0.6},
    "window": {"rule": "window", "patience": 15, "min_delta": 0.001, "delta_mode": "abs"},
    "window-smoothed-rel": {"rule": "window", "patience": 40, "smoothing": 0.9, "min_delta": 0.001},
    "trend-improvement": {"rule": "trend", "trend_test": "improvement", "trend_window": 12, "patience": 4},
    "trend-plateau-max-mode": {"rule": "trend", "mode": "max", "trend_window": 8},
    "best-min-steps": {"rule": "best", "patience": 5, "min_steps": 250},
    "thresholds": {"rule": "best", "patience": 50, "stopping_threshold": 0.6, "divergence_threshold": 50.0},
    "hf": {"compat": "hf", "patience": 5, "min_delta": 0.001},
    "lightning": {"compat": "lightning", "patience": 5, "min_delta": 0.001},
    "no-finite-check": {"rule": "best", "patience": 30, "check_finite": False},
}


def events(values: list[float], monitor: str) -> list[tuple[int, int, str, float]]:
    """The monitored key at every 4th step, plus a training loss at every step when the monitor is not it."""
    out = [(4 * (i + 1), 1, monitor, v) for i, v in enumerate(values)]
    if monitor != "loss":
        out += [(s, 0, "loss", 1.5 + 0.1 * math.sin(s)) for s in range(1, 4 * len(values) + 1)]
    return sorted(out)


def incremental(policy: Policy, evs: list[tuple[int, int, str, float]], seed: int) -> tuple[Decision, list[Decision]]:
    """Fed as ingest feeds it: random-sized batches, each run of one key at once, the state through JSON between."""
    rng = np.random.default_rng(seed)
    stopper, saved = Stopper(policy), StopState().to_dict()
    after: list[Decision] = []
    i = 0
    while i < len(evs):
        j = min(len(evs), i + int(rng.integers(1, 60)))
        state = StopState.from_dict(json.loads(json.dumps(saved)))
        k = i
        while k < j:
            key = evs[k][2]
            m = k
            while m < j and evs[m][2] == key:
                m += 1
            stopper.feed_many(state, key=key, steps=[e[0] for e in evs[k:m]], values=[e[3] for e in evs[k:m]])
            k = m
        saved = state.to_dict()
        after.append(stopper.current(state))
        i = j
    return stopper.current(StopState.from_dict(saved)), after


@pytest.mark.parametrize("sequence", list(SEQUENCES), ids=list(SEQUENCES))
@pytest.mark.parametrize("policy_name", list(POLICIES), ids=list(POLICIES))
def test_stop_state_batches_through_json_decide_what_one_pass_decides(policy_name: str, sequence: str) -> None:
    policy = Policy(**POLICIES[policy_name])
    evs = events(SEQUENCES[sequence], policy.monitor)
    checks, stop = replay(policy, evs)
    final, _ = incremental(policy, evs, seed=len(policy_name))
    expected = stop if stop is not None else checks[-1]
    assert final.to_dict() == expected.to_dict()


@pytest.mark.parametrize("seed", range(4))
def test_stop_state_every_batch_boundary_agrees_with_the_one_pass(seed: int) -> None:
    """Not only the end: after each batch the decision is the one-pass decision at that batch's last check."""
    policy = Policy(**POLICIES["window-smoothed-rel"])
    evs = events(u_turn(250, seed), policy.monitor)
    _, after = incremental(policy, evs, seed)
    stopper, state = Stopper(policy), StopState()
    rng = np.random.default_rng(seed)
    i, n = 0, 0
    while i < len(evs):  # the same batch cuts as `incremental` draws
        j = min(len(evs), i + int(rng.integers(1, 60)))
        for step, _, key, value in evs[i:j]:
            stopper.observe(state, key=key, step=step, value=value)
        assert stopper.current(state).to_dict() == after[n].to_dict()
        i, n = j, n + 1


def saved_size(policy: Policy, n: int) -> int:
    stopper, state = Stopper(policy), StopState()
    values = falling(n, 5)
    stopper.feed_many(state, key=policy.monitor, steps=list(range(1, n + 1)), values=values)
    return len(json.dumps(state.to_dict()))


@pytest.mark.parametrize(
    "policy,window",
    [
        (dict(monitor="loss", rule="best", patience=10000, smoothing=0.6), 1),
        (dict(rule="window", patience=50), 51),
        (dict(rule="trend", trend_window=12, patience=100), 12),
    ],
    ids=["best-patience-10000", "window-50", "trend-12"],
)
def test_stop_state_size_does_not_grow_with_the_series(policy: dict, window: int) -> None:
    p = Policy(**policy)
    stopper, state = Stopper(p), StopState()
    stopper.feed_many(state, key=p.monitor, steps=list(range(1, 5001)), values=falling(5000, 5))
    assert len(state.recent) == len(state.recent_steps) == window
    # Saved sizes after 500 and after 20,000 checks differ only by the digits of the counters.
    assert abs(saved_size(p, 20_000) - saved_size(p, 500)) < 40


def test_stop_state_reads_a_state_saved_before_windows_were_packed() -> None:
    policy = Policy(rule="window", patience=5)
    stopper, state = Stopper(policy), StopState()
    values = falling(40, 9)
    for step, v in enumerate(values[:30], start=1):
        stopper.check(state, step=step, value=v)
    old = state.to_dict()
    old.update(recent=list(state.recent), recent_steps=list(state.recent_steps), diffs=list(state.diffs))
    a, b = StopState.from_dict(json.loads(json.dumps(old))), StopState.from_dict(state.to_dict())
    assert a == b
    for step, v in enumerate(values[30:], start=31):
        assert stopper.check(a, step=step, value=v).to_dict() == stopper.check(b, step=step, value=v).to_dict()
