"""Stop quality of the default policy on the shared real curves, its constants chosen by cross-validation.

Every shared curve with at least 5 evaluations, read as `losswatch import` reads it (its points, and its
config: planned steps, warm-up, intervals). For a stop at step s:
  regret = best eval seen up to and including s / best eval of the whole run - 1   (0 without a stop)
  saved  = 1 - s / last logged step (train or eval)                                (0 without a stop)
Columns: the default rule with constants chosen leave-one-out (for each curve, the grid point that saves
the most on the *other* curves while keeping their worst regret within half the 1% goal; the curve's
numbers are then held out), the same without the run's config (no plan: as an import of a bare log),
transformers' EarlyStoppingCallback at patience 2/3/5 (transformers itself, tests/oracles.py),
Lightning's EarlyStopping with its defaults (Lightning itself), the best patience in hindsight (for each
curve on its own, the transformers patience from 1 to 10 that saves the most while its regret on that
curve stays within 1%: a patience chosen per run by someone who has seen the run's end, which no setting
chosen in advance can beat), and the hindsight oracle (the first evaluation whose best-so-far is within 1%
of the run's best; no rule can save more at that regret). Below them, the shipped default and transformers'
patience 3 on runs made from the shared ones (thinned, noisier) and on runs whose truth is known
(bench/synthetic.py): how often each stops a healthy run on noise.
    python bench/stop_quality.py
"""

from __future__ import annotations

import functools
import itertools
import sys
import tempfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import synthetic  # noqa: E402
from bench.common import write_section  # noqa: E402
from bench.runs import Curve, Evals  # noqa: E402
from losswatch.monitor.importers import read_log  # noqa: E402
from losswatch.monitor.judgement import forecast as forecast_module  # noqa: E402
from losswatch.monitor.judgement import noise  # noqa: E402
from losswatch.monitor.judgement import rule as forecast_rule  # noqa: E402
from losswatch.monitor.judgement.schedule import Schedule  # noqa: E402
from losswatch.monitor.policy import RULE_DEFAULTS, Policy  # noqa: E402
from losswatch.monitor.stopping import Stopper, StopState  # noqa: E402
from tests import oracles  # noqa: E402
from tests.curves import CURVES, load, with_evals  # noqa: E402

HF_PATIENCES = (2, 3, 5)
# The patiences the per-curve hindsight choice picks from: 1 is the quickest transformers allows, and past 10
# a patience rarely fires within the runs here.
HINDSIGHT_PATIENCES = tuple(range(1, 11))
REGRET_GOAL = 0.01
# Constants are chosen where the other curves' worst regret stays within this share of the goal: real runs
# the grid never saw are rougher than the ones it did.
SELECTION_MARGIN = 0.5
ORACLE_SHARE_GOAL = 0.7
# How many evaluations past the hindsight stop the delayed oracles stop.
DELAYS = (1, 2, 3)

# The grid the cross-validation chooses from: every point is a meaningful setting (checks in a row, noise
# multiples, shares of the best, interval levels), none is a threshold read off one curve.
GRID: dict[str, tuple[Any, ...]] = {
    "patience": (1, 2),
    # At least two readings above the best: one reading is never a trend (a spike would do).
    "overfit_patience": (2, 3),
    # At least one noise sigma: a rise smaller than the noise cannot be told from it.
    "overfit_sigmas": (1.0, 2.0, 3.0),
    "min_delta": (0.0025, 0.005, 0.0075),
    "forecast_level": (0.8, 0.9),
}


@dataclass(frozen=True)
class Outcome:
    stop: int | None
    regret: float
    saved: float


def curves() -> list[Curve]:
    out = []
    for name in with_evals():
        train, evals = load(name)
        config = read_log(CURVES / name).config
        out.append(Curve(name, evals, max(s for s, _ in train + evals), config))
    return out


def outcome(evals: Evals, end: int, stop: int | None) -> Outcome:
    best = min(v for _, v in evals)
    seen = min(v for s, v in evals if stop is None or s <= stop)
    return Outcome(stop, seen / best - 1, 0.0 if stop is None else 1 - stop / end)


def run_end(name: str) -> int:
    train, evals = load(name)
    return max(s for s, _ in train + evals)


def policy_stop(evals: Evals, policy: Policy | None = None, config: dict[str, Any] | None = None) -> int | None:
    stopper = Stopper(policy or Policy(), Schedule.from_config(config))
    state = StopState()
    for step, value in evals:
        if stopper.check(state, step=step, value=value).should_stop:
            return step
    return None


def default_stop(evals: Evals, policy: Policy | None = None, config: dict[str, Any] | None = None) -> int | None:
    return policy_stop(evals, policy, config)


def hf_stop(evals: Evals, patience: int, output_dir: str) -> int | None:
    return oracles.hf_stop(evals, patience, 0.0, output_dir)


def best_patience_in_hindsight(evals: Evals, end: int, output_dir: str) -> Outcome:
    """The transformers patience that, on this curve alone, saves the most within the regret goal (no stop
    when none does): an upper bound for every patience rule, since its setting is read off the run's end."""
    fits = [outcome(evals, end, hf_stop(evals, p, output_dir)) for p in HINDSIGHT_PATIENCES]
    fits = [o for o in fits if o.regret <= REGRET_GOAL]
    return max(fits, key=lambda o: o.saved, default=outcome(evals, end, None))


def hindsight_stop(evals: Evals) -> int | None:
    best = min(v for _, v in evals)
    low = float("inf")
    for s, v in evals:
        low = min(low, v)
        if low / best - 1 <= REGRET_GOAL:
            return s
    return None


def delayed_hindsight(evals: Evals, end: int, delay: int) -> Outcome:
    """The hindsight stop `delay` evaluations later (no stop when the run has none left): what a rule that
    knew each run's best and still needed `delay` evaluations past it to be sure would save."""
    at = hindsight_stop(evals)
    steps = [s for s, _ in evals]
    i = steps.index(at) + delay if at is not None else len(steps)
    return outcome(evals, end, steps[i] if i < len(steps) else None)


# Runs the constants never saw, made from the shared ones: the same run evaluated half or a third as often
# (every other evaluation, either offset; every third), and the same readings with as much noise again as they
# show (their second-difference sigma; fixed seeds). None is a new real run; all are runs a user could have had.
THINNED = {"every 2nd": (2, 0), "every 2nd, offset 1": (2, 1), "every 3rd": (3, 0)}
NOISE_SEEDS = (0, 1, 2)
MIN_EVALS = 5


def variants(c: Curve) -> dict[str, tuple[Evals, dict[str, Any]]]:
    out: dict[str, tuple[Evals, dict[str, Any]]] = {}
    for label, (every, offset) in THINNED.items():
        thinned = c.evals[offset::every]
        if len(thinned) >= MIN_EVALS:
            config = dict(c.config)
            if config.get("eval_steps"):
                config["eval_steps"] = config["eval_steps"] * every
            out[label] = (thinned, config)
    y = np.array([v for _, v in c.evals])
    sigma = noise.reading_sigma(y) or 0.0
    for seed in NOISE_SEEDS:
        rng = np.random.default_rng([seed, zlib.crc32(c.name.encode())])
        noisy = [(s, float(v + rng.normal(0.0, sigma))) for s, v in c.evals]
        out[f"noise, seed {seed}"] = (noisy, c.config)
    return out


def family(label: str) -> str:
    """The variant family a variant's label belongs to: its noise seeds are one family."""
    return "noise" if label.startswith("noise") else label


Variants = dict[str, dict[tuple[str, str], Outcome]]


def measure_variants(data: list[Curve]) -> Variants:
    """{column: {(curve, variant): outcome}} for the shipped default, transformers' patience 3 and hindsight."""
    out: Variants = {"default": {}, "hf p3": {}, "hindsight": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for c in data:
            for label, (evals, config) in variants(c).items():
                side_by_side(out, (c.name, label), Curve(c.name, evals, c.end, config), tmp)
    return out


def side_by_side(out: Variants, key: tuple[str, str], run: Curve, tmp: str) -> None:
    """The shipped default, transformers' patience 3 and hindsight on one run, filed under `key`."""
    out["default"][key] = outcome(run.evals, run.end, default_stop(run.evals, None, run.config))
    out["hf p3"][key] = outcome(run.evals, run.end, hf_stop(run.evals, 3, tmp))
    out["hindsight"][key] = outcome(run.evals, run.end, hindsight_stop(run.evals))


def summarise(found: Variants, col: str, keys: list[tuple[str, str]]) -> tuple[int, float, float]:
    """Of the runs `keys` in column `col`: how many stops cost more than the goal, the worst regret, the mean saved."""
    rows = [found[col][k] for k in keys]
    over = sum(o.regret > REGRET_GOAL for o in rows)
    return over, max(o.regret for o in rows), float(np.mean([o.saved for o in rows]))


SYNTHETIC_RUNS = 600


def measure_synthetic(count: int = SYNTHETIC_RUNS) -> Variants:
    """{column: {(kind, run): outcome}} on runs whose truth is known (bench/synthetic.py)."""
    out: Variants = {"default": {}, "hf p3": {}, "hindsight": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in synthetic.KINDS:
            for run in synthetic.runs(kind, count):
                side_by_side(out, (kind, run.name), run, tmp)
    return out


def noise_quartiles(data: list[Curve]) -> list[float]:
    """The shared curves' reading noise as a share of their level: its quartiles."""
    shares = []
    for c in data:
        y = np.array([v for _, v in c.evals])
        sigma = noise.reading_sigma(y)
        if sigma is not None and np.median(y) != 0:
            shares.append(sigma / abs(float(np.median(y))))
    return [float(q) for q in np.quantile(shares, [0.25, 0.5, 0.75])]


def synthetic_text(found: Variants, quartiles: list[float]) -> str:
    """The shipped default beside transformers' patience 3 on runs whose truth is known."""
    lines = [
        "Runs whose truth is known (`bench/synthetic.py`): "
        f"{SYNTHETIC_RUNS} noisy healthy falls (falling until their planned end, so every stop of one is raised "
        f"on noise; the table counts those that cost more than the {REGRET_GOAL:.0%} goal) and {SYNTHETIC_RUNS} "
        f"noisy overfits (falling until a turn between {synthetic.TURN[0]:.0%} and {synthetic.TURN[1]:.0%} of the "
        "run, then climbing; on the shortest runs the turn can come before the first evaluation, and the run only "
        "climbs); "
        f"{synthetic.EVALS[0]} to {synthetic.EVALS[-1]} evaluations, the plan ending on the last one, reading "
        f"noise {', '.join(f'{s:.1%}' for s in synthetic.NOISE_SHARES)} of the level (the shared curves' "
        f"quartiles: {', '.join(f'{q:.1%}' for q in quartiles)}). The constants were chosen on the shared "
        "curves; the one also measured on runs like these is TREND_READINGS (monitor/judgement/rule.py), on these "
        "and on two other seeds.",
        "",
        "| runs | count | default: stops beyond the goal / worst regret / mean saved / that ÷ hindsight's "
        "| hf p3: stops beyond the goal / worst regret / mean saved | hindsight: mean saved |",
        "|---|---|---|---|---|",
    ]
    for kind in synthetic.KINDS:
        keys = [k for k in found["default"] if k[0] == kind]
        if not keys:
            continue
        (do, dw, ds), (ho, hw, hs) = summarise(found, "default", keys), summarise(found, "hf p3", keys)
        os_ = summarise(found, "hindsight", keys)[2]
        n = len(keys)
        ratio = f"{ds / os_:.2f}" if os_ > 0 else "—"
        lines.append(
            f"| {kind} | {n} | {do} ({do / n:.1%}) / {dw:.2%} / {ds:.3f} / {ratio} "
            f"| {ho} ({ho / n:.1%}) / {hw:.2%} / {hs:.3f} | {os_:.3f} |"
        )
    return "\n".join(lines) + "\n"


@functools.cache
def _cached_forecast(steps: tuple[int, ...], values: tuple[float, ...], horizon: int, level: float) -> Any:
    return _real_forecast(np.asarray(steps), np.asarray(values), horizon=horizon, level=level)


_real_forecast = forecast_module.forecast


def _memo_forecast(steps: Any, values: Any, *, horizon: int, level: float = 0.8, **_: Any) -> Any:
    # The grid replays the same checks many times; a forecast depends only on its inputs.
    return _cached_forecast(tuple(int(s) for s in steps), tuple(float(v) for v in values), horizon, level)


def grid_points() -> list[dict[str, Any]]:
    return [dict(zip(GRID, values, strict=True)) for values in itertools.product(*GRID.values())]


def evaluate_grid(data: list[Curve], with_config: bool = True) -> dict[tuple, dict[str, Outcome]]:
    """{grid point: {curve: outcome}} for the forecast rule."""
    forecast_rule.forecast = _memo_forecast
    try:
        out: dict[tuple, dict[str, Outcome]] = {}
        for point in grid_points():
            policy = Policy(rule="forecast", **point)
            out[tuple(point.values())] = {
                c.name: outcome(c.evals, c.end, policy_stop(c.evals, policy, c.config if with_config else None))
                for c in data
            }
        return out
    finally:
        forecast_rule.forecast = _real_forecast


def select(results: dict[tuple, dict[str, Outcome]], names: Iterable[str]) -> tuple:
    """The grid point that saves the most on `names` with their worst regret within the selection margin;
    ties go to the lower worst regret, then to the grid's order (more careful settings come first)."""
    names = list(names)
    limit = SELECTION_MARGIN * REGRET_GOAL

    def key(point: tuple) -> tuple[float, float]:
        row = results[point]
        worst = max(row[n].regret for n in names)
        mean = float(np.mean([row[n].saved for n in names]))
        return (mean if worst <= limit else -1.0 - worst, -worst)

    return max(results, key=key)


def cross_validate(results: dict[tuple, dict[str, Outcome]], names: list[str]) -> tuple[dict[str, Outcome], Counter]:
    """Leave-one-out: each curve judged with the constants chosen on all the others."""
    held: dict[str, Outcome] = {}
    chosen: Counter = Counter()
    for name in names:
        point = select(results, [n for n in names if n != name])
        chosen[point] += 1
        held[name] = results[point][name]
    return held, chosen


def two_fold(results: dict[tuple, dict[str, Outcome]], names: list[str]) -> dict[str, Outcome]:
    """Two folds by file (odd and even positions), each judged with the constants chosen on the other."""
    folds = [names[0::2], names[1::2]]
    held: dict[str, Outcome] = {}
    for i, fold in enumerate(folds):
        point = select(results, folds[1 - i])
        held.update({n: results[point][n] for n in fold})
    return held


def measure() -> tuple[dict[str, dict[str, Outcome]], dict[str, Any]]:
    data = curves()
    names = [c.name for c in data]
    grid = evaluate_grid(data)
    held, chosen = cross_validate(grid, names)
    folds = two_fold(grid, names)
    grid_plain = evaluate_grid(data, with_config=False)
    held_plain, _ = cross_validate(grid_plain, names)
    everything = select(grid, names)
    out: dict[str, dict[str, Outcome]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for c in data:
            row = {"default (LOO)": held[c.name], "2-fold": folds[c.name], "no config (LOO)": held_plain[c.name]}
            for p in HF_PATIENCES:
                row[f"hf p{p}"] = outcome(c.evals, c.end, hf_stop(c.evals, p, tmp))
            row["lightning"] = outcome(c.evals, c.end, oracles.lightning_stop(c.evals))
            row["best patience, hindsight"] = best_patience_in_hindsight(c.evals, c.end, tmp)
            row["hindsight"] = outcome(c.evals, c.end, hindsight_stop(c.evals))
            out[c.name] = row
    delayed = {d: float(np.mean([delayed_hindsight(c.evals, c.end, d).saved for c in data])) for d in DELAYS}
    meta = {
        "chosen": chosen,
        "all": dict(zip(GRID, everything, strict=True)),
        "n_grid": len(grid),
        "delayed": delayed,
        "variants": measure_variants(data),
        "synthetic": measure_synthetic(),
        "noise_quartiles": noise_quartiles(data),
    }
    return out, meta


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
    oracle = mean_saved(results, "hindsight")
    fmt: Callable[[str], str] = lambda c: f"**{mean_saved(results, c) / oracle:.2f}**"  # noqa: E731
    lines.append("| **worst regret** | " + " | ".join(f"**{worst_regret(results, c):.2%}**" for c in columns) + " |")
    lines.append("| **mean saved** | " + " | ".join(f"**{mean_saved(results, c):.3f}**" for c in columns) + " |")
    lines.append("| **saved / hindsight's** | " + " | ".join(fmt(c) for c in columns) + " |")
    return "\n".join(lines)


def delayed_text(delayed: dict[int, float], oracle: float) -> str:
    parts = ", ".join(f"{d} later {saved:.3f} = {saved / oracle:.2f}x" for d, saved in delayed.items())
    return (
        "What the goal asks: hindsight's stop delayed by a number of evaluations on every run (a rule that knew "
        f"each run's best and needed that many evaluations past it to be sure) saves {parts}. "
        f"{ORACLE_SHARE_GOAL}x is hindsight's stop two evaluations later on every run, healthy ones included.\n\n"
    )


def variants_text(found: Variants) -> str:
    """The shipped default on runs made from the shared ones, beside transformers' patience 3."""
    lines = [
        "Robustness: the shipped default (and transformers' patience 3) on runs made from the shared ones: "
        "each curve evaluated every 2nd (both offsets) or every 3rd time where that leaves at least "
        f"{MIN_EVALS} evaluations (its config's eval interval scaled to match), and its readings with as much "
        f"noise again as they show (their second-difference sigma, seeds {', '.join(map(str, NOISE_SEEDS))}). "
        "The constants were not chosen on these.",
        "",
        "| variant | runs | default: worst regret / mean saved / saved / hindsight's "
        "| hf p3: worst regret / mean saved | hindsight: mean saved |",
        "|---|---|---|---|---|",
    ]
    for fam in [*THINNED, "noise"]:
        keys = [k for k in found["default"] if family(k[1]) == fam]
        (_, dw, ds), (_, hw, hs) = summarise(found, "default", keys), summarise(found, "hf p3", keys)
        os_ = summarise(found, "hindsight", keys)[2]
        lines.append(
            f"| {fam} | {len(keys)} | {dw:.2%} / {ds:.3f} / {ds / os_:.2f} | {hw:.2%} / {hs:.3f} | {os_:.3f} |"
        )
    over = sorted(((k, o) for k, o in found["default"].items() if o.regret > REGRET_GOAL), key=lambda kv: -kv[1].regret)
    lines.append("")
    if over:
        listed = "; ".join(f"{name} ({label}): stop {o.stop}, regret {o.regret:.2%}" for (name, label), o in over)
        lines.append(f"The default's stops beyond the {REGRET_GOAL:.0%} goal on these runs: {listed}.")
    else:
        lines.append(f"The default stops none of these runs beyond the {REGRET_GOAL:.0%} goal.")
    return "\n".join(lines) + "\n"


def main() -> None:
    results, meta = measure()
    chosen = ", ".join(
        f"{dict(zip(GRID, point, strict=True))} ×{count}" for point, count in meta["chosen"].most_common()
    )
    defaults = {k: RULE_DEFAULTS[k] for k in GRID}
    agree = "the same as" if defaults == meta["all"] else "NOT the same as"
    col = "default (LOO)"
    ceiling = "best patience, hindsight"
    body = (
        "## Stop quality: the default policy, cross-validated (`bench/stop_quality.py`)\n\n"
        f"Curves: every shared curve with at least 5 evaluations ({len(results)}), read as `losswatch import` "
        'reads them (points and config). Default: `rule: "forecast"` (monitor/judgement/rule.py). Its '
        f"constants come from a grid of {meta['n_grid']} settings ({', '.join(f'{k} {v}' for k, v in GRID.items())}); "
        "**every number in the first three columns is held out**: leave-one-out, each curve judged with the "
        "setting that saves the most on the *other* curves while keeping their worst regret within "
        f"{SELECTION_MARGIN:.0%} of the {REGRET_GOAL:.0%} goal; '2-fold' splits the files in two and judges "
        "each half with the other's choice; 'no config' is leave-one-out again with the runs' configs "
        "withheld (no planned length: a bare import). transformers' and Lightning's stops come from the "
        "libraries themselves. 'best patience, hindsight' picks, for each curve on its own, the transformers "
        f"patience ({HINDSIGHT_PATIENCES[0]} to {HINDSIGHT_PATIENCES[-1]}) that saves the most with at most "
        f"{REGRET_GOAL:.0%} regret on that curve: a setting read off the run's end, so no patience chosen in "
        "advance saves more. 'hindsight' is the first evaluation whose best-so-far is within 1% of the "
        "run's best: no rule saves more at that regret.\n\n" + table(results) + "\n\n"
        f"Goals (held out): worst regret <= {REGRET_GOAL:.0%}; mean saved >= {ORACLE_SHARE_GOAL} x hindsight's. "
        f"Held out: worst regret **{worst_regret(results, col):.2%}**, mean saved "
        f"**{mean_saved(results, col):.3f}** = **{mean_saved(results, col) / mean_saved(results, 'hindsight'):.2f}"
        f" x hindsight's** ({mean_saved(results, 'hindsight'):.3f}). The best patience chosen per curve in "
        f"hindsight saves {mean_saved(results, ceiling) / mean_saved(results, 'hindsight'):.2f} x hindsight's: "
        "the share a patience rule could reach only by knowing each run's end.\n\n"
        f"Settings the leave-one-out folds chose: {chosen}. On all {len(results)} curves the choice is "
        f"{meta['all']}, {agree} the shipped defaults (`RULE_DEFAULTS` in monitor/policy.py).\n\n"
        + delayed_text(meta["delayed"], mean_saved(results, "hindsight"))
        + variants_text(meta["variants"])
        + "\n"
        + synthetic_text(meta["synthetic"], meta["noise_quartiles"])
    )
    write_section("stop_quality", body)
    print(body)


if __name__ == "__main__":
    main()
