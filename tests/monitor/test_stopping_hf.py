"""compat "hf" against transformers itself: its EarlyStoppingCallback and the Trainer's best-metric update."""

from __future__ import annotations

import math
from typing import Literal

import pytest

from losswatch.monitor.policy import Policy
from losswatch.monitor.stopping import Stopper, StopState
from tests.curves import load, with_evals
from tests.oracles import hf_stop


def hf_oracle(
    evals: list[tuple[int, float]], patience: int, threshold: float, tmp: str, greater_is_better: bool = False
) -> int | None:
    return hf_stop(evals, patience, threshold, tmp, greater_is_better)


def ours(
    evals: list[tuple[int, float]], patience: int, threshold: float, mode: Literal["min", "max"] = "min"
) -> int | None:
    stopper = Stopper(Policy(patience=patience, min_delta=threshold, compat="hf", mode=mode))
    state = StopState()
    for step, value in evals:
        if stopper.check(state, step=step, value=value).should_stop:
            return step
    # Round-trip through JSON state on every check must not change anything either.
    return None


CASES = [(name, p, t) for name in with_evals() for p in (1, 2, 3, 5) for t in (0.0, 0.001, 0.01)]


@pytest.mark.curves
@pytest.mark.parametrize("name,patience,threshold", CASES, ids=[f"{n.split('_')[0]}-p{p}-t{t}" for n, p, t in CASES])
def test_hf_compat_stops_where_transformers_does(name: str, patience: int, threshold: float, tmp_path) -> None:
    _, evals = load(name)
    assert ours(evals, patience, threshold) == hf_oracle(evals, patience, threshold, str(tmp_path))


SYNTHETIC = {
    "sub-threshold-gains-raise-best": [1.0, 0.999, 0.998, 0.997, 0.996, 0.995],
    "nan-first": [math.nan, 1.0, 0.9, 0.95, 0.96, 0.97],
    "nan-middle": [1.0, 0.9, math.nan, 0.95, 0.85, 0.86, 0.87, 0.88],
    "ties": [1.0, 1.0, 1.0, 1.0],
    "rising": [1.0, 1.1, 1.2, 1.3],
}


@pytest.mark.parametrize("name", list(SYNTHETIC))
@pytest.mark.parametrize("patience,threshold", [(1, 0.0), (2, 0.0015), (3, 0.0)])
def test_hf_compat_synthetic(name: str, patience: int, threshold: float, tmp_path) -> None:
    evals = list(enumerate(SYNTHETIC[name], start=1))
    assert ours(evals, patience, threshold) == hf_oracle(evals, patience, threshold, str(tmp_path))


@pytest.mark.parametrize("name", list(SYNTHETIC))
def test_hf_compat_greater_is_better(name: str, tmp_path) -> None:
    evals = [(s, -v) for s, v in enumerate(SYNTHETIC[name], start=1)]
    assert ours(evals, 2, 0.0, mode="max") == hf_oracle(evals, 2, 0.0, str(tmp_path), greater_is_better=True)


def test_hf_compat_state_survives_json_round_trip() -> None:
    _, evals = load("03_whisper_flemish_late_overfit.json")
    stopper = Stopper(Policy(patience=3, compat="hf"))
    state, stop = StopState(), None
    for step, value in evals:
        state = StopState.from_dict(state.to_dict())
        if stopper.check(state, step=step, value=value).should_stop:
            stop = step
            break
    assert stop == ours(evals, 3, 0.0)
