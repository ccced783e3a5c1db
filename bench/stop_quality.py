"""Stop quality of the default policy against transformers' EarlyStoppingCallback on the shared real curves.

For every curve with at least 5 evaluations: regret = best eval seen up to and including the stop / best
eval of the whole run - 1; saved = 1 - stop step / last logged step (train or eval); no stop = regret 0,
saved 0. transformers' stops come from its own callback and the Trainer's own best-metric update. The
"hindsight" column is the earliest stop any rule could make with regret <= 1%: an upper bound on saved.
    python bench/stop_quality.py
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import write_section  # noqa: E402
from losswatch.monitor.policy import Policy  # noqa: E402
from losswatch.monitor.stopping import Stopper, StopState  # noqa: E402
from tests import oracles  # noqa: E402
from tests.curves import load, with_evals  # noqa: E402

HF_PATIENCES = (2, 3, 5)
REGRET_GOAL = 0.01
SAVED_GOAL = 0.30
HEALTHY = ("14", "17")  # the curves' README: healthy, no stop should fire before their best

Evals = list[tuple[int, float]]


@dataclass(frozen=True)
class Outcome:
    stop: int | None
    regret: float
    saved: float


def outcome(evals: Evals, end: int, stop: int | None) -> Outcome:
    best = min(v for _, v in evals)
    seen = min(v for s, v in evals if stop is None or s <= stop)
    return Outcome(stop, seen / best - 1, 0.0 if stop is None else 1 - stop / end)


def run_end(name: str) -> int:
    train, evals = load(name)
    return max(s for s, _ in train + evals)


def default_stop(evals: Evals, policy: Policy | None = None) -> int | None:
    stopper = Stopper(policy or Policy())
    state = StopState()
    for step, value in evals:
        if stopper.check(state, step=step, value=value).should_stop:
            return step
    return None


def hf_stop(evals: Evals, patience: int, output_dir: str) -> int | None:
    return oracles.hf_stop(evals, patience, 0.0, output_dir)


def hindsight_stop(evals: Evals) -> int | None:
    best = min(v for _, v in evals)
    return next(s for s, v in evals if v / best - 1 <= REGRET_GOAL)


def measure() -> dict[str, dict[str, Outcome]]:
    """{curve: {column: Outcome}} for the default, transformers' patiences and the hindsight bound."""
    out: dict[str, dict[str, Outcome]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in with_evals():
            _, evals = load(name)
            end = run_end(name)
            row = {"default": outcome(evals, end, default_stop(evals))}
            for p in HF_PATIENCES:
                row[f"hf p{p}"] = outcome(evals, end, hf_stop(evals, p, tmp))
            row["hindsight"] = outcome(evals, end, hindsight_stop(evals))
            out[name] = row
    return out


def healthy_bound(results: dict[str, dict[str, Outcome]], healthy: tuple[str, ...] = HEALTHY) -> float:
    """Mean saved of the hindsight stops when the healthy curves must run to their best eval."""
    total = 0.0
    for name, row in results.items():
        if name.split("_")[0] in healthy:
            _, evals = load(name)
            best_step = min(evals, key=lambda sv: sv[1])[0]
            total += outcome(evals, run_end(name), best_step).saved
        else:
            total += row["hindsight"].saved
    return total / len(results)


def worst_regret(results: dict[str, dict[str, Outcome]], column: str) -> float:
    return max(r[column].regret for r in results.values())


def mean_saved(results: dict[str, dict[str, Outcome]], column: str) -> float:
    return sum(r[column].saved for r in results.values()) / len(results)


def table(results: dict[str, dict[str, Outcome]]) -> str:
    columns = list(next(iter(results.values())))
    head = "| curve | " + " | ".join(f"{c}: stop / regret / saved" for c in columns) + " |"
    lines = [head, "|---|" + "---|" * len(columns)]

    def cell(o: Outcome) -> str:
        return f"{o.stop if o.stop is not None else '—'} / {o.regret:.2%} / {o.saved:.2f}"

    for name, row in results.items():
        lines.append(f"| {name} | " + " | ".join(cell(row[c]) for c in columns) + " |")
    lines.append("| **worst regret** | " + " | ".join(f"**{worst_regret(results, c):.2%}**" for c in columns) + " |")
    lines.append("| **mean saved** | " + " | ".join(f"**{mean_saved(results, c):.3f}**" for c in columns) + " |")
    return "\n".join(lines)


def main() -> None:
    results = measure()
    p = Policy()
    body = (
        f"## Stop quality: default policy vs transformers' EarlyStoppingCallback (`bench/stop_quality.py`)\n\n"
        f"Default policy: rule `{p.rule}` (`trend_test={p.trend_test}`), window {p.trend_window}, patience "
        f"{p.patience}, min_delta {p.min_delta} ({p.delta_mode}). Curves: every shared curve with at least 5 "
        f"evaluations. Goal: worst regret <= {REGRET_GOAL:.0%}, mean saved >= {SAVED_GOAL}. 'hindsight' is the "
        f"earliest stop with regret <= {REGRET_GOAL:.0%} knowing the whole curve: no rule can save more.\n\n"
        + table(results)
        + "\n\n"
        f"If the healthy curves ({', '.join(HEALTHY)}) may not stop before their best eval, even hindsight "
        f"saves at most {healthy_bound(results):.3f} on average.\n"
    )
    write_section("stop_quality", body)
    print(body)


if __name__ == "__main__":
    main()
