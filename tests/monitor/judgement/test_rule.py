"""The forecast rule's reading of how likely a run is to come back to its best."""

from __future__ import annotations

import numpy as np
import pytest

from losswatch.monitor.judgement.noise import luckiest_of
from losswatch.monitor.judgement.rule import TREND_READINGS, return_chance, theil_alpha


@pytest.mark.parametrize("ahead", [1, 5, 40])
def test_return_chance_of_a_flat_level_is_the_best_of_independent_draws(ahead: int) -> None:
    # At the gap where the luckiest of `ahead` draws just reaches the mark, the chance is 1 - level.
    level, reach = 0.8, 0.1
    flat = np.array([1.0, 1.0, 1.0, 1.0])
    gap = reach * luckiest_of(ahead, level)
    assert return_chance(flat, gap, reach, ahead, level) == pytest.approx(1 - level, abs=1e-9)


@pytest.mark.parametrize(
    ("since", "gap", "ahead", "more_than", "less_than"),
    [
        pytest.param([1.0, 1.0, 1.0], -0.05, 10, 0.99, 1.0, id="below-the-mark-already"),
        pytest.param([1.0, 1.0, 1.0], 0.5, 10, 0.0, 1e-4, id="far-above-the-mark"),
        pytest.param([1.00, 1.00, 1.00, 1.00, 1.00], 0.1, 30, 0.5, 1.0, id="flat-and-near-many-draws-left"),
        pytest.param([1.00, 1.05, 1.10, 1.15, 1.20], 0.1, 30, 0.0, 0.05, id="climbing-leaves-few-lucky-draws"),
        pytest.param([1.20, 1.15, 1.10, 1.05, 1.00], 0.1, 30, 0.5, 1.0, id="falling-back-is-read-as-flat"),
        # Three readings that rise in a row are as often chance as a climb: read as a flat level.
        pytest.param([1.00, 1.05, 1.10], 0.1, 30, 0.5, 1.0, id="three-rising-are-read-as-flat"),
        pytest.param([1.00, 1.05, 1.10, 1.15], 0.1, 30, 0.0, 0.05, id="four-rising-are-a-climb"),
    ],
)
def test_return_chance_on_sequences(
    since: list[float], gap: float, ahead: int, more_than: float, less_than: float
) -> None:
    chance = return_chance(np.asarray(since), gap, 0.1, ahead, 0.8)
    assert more_than <= chance <= less_than


def test_return_chance_grows_with_the_readings_left() -> None:
    since = np.array([1.0, 1.02, 1.01, 1.03])
    chances = [return_chance(since, 0.15, 0.1, n, 0.8) for n in (1, 5, 25, 125)]
    assert chances == sorted(chances) and chances[0] < chances[-1]


def test_return_chance_without_noise_is_certain_either_way() -> None:
    assert return_chance(np.array([1.0, 1.0, 1.0]), 0.01, 0.0, 10, 0.8) == 0.0
    assert return_chance(np.array([1.0, 1.0, 1.0]), -0.01, 0.0, 10, 0.8) == 1.0


@pytest.mark.parametrize("level", [0.01, 0.3, 0.5, 0.6, 0.75, 0.8, 0.99])
def test_return_chance_answers_every_level_a_policy_may_set(level: float) -> None:
    # Level 0.5 once asked scipy for a 0% interval, which raised inside the ingest transaction (a 500, the
    # batch lost); levels under 0.75 were read as wider intervals than asked.
    since = np.array([0.72, 0.75, 0.71, 0.78, 0.80, 0.83])
    chance = return_chance(since, 0.05, 0.03, 10, level)
    assert 0.0 <= chance <= 1.0


@pytest.mark.parametrize(("level", "alpha"), [(0.95, 0.9), (0.8, 0.6), (0.75, 0.5), (0.6, 0.5), (0.5, 0.5), (0.1, 0.5)])
def test_theil_alpha_is_the_two_sided_interval_never_narrower_than_half(level: float, alpha: float) -> None:
    assert theil_alpha(level) == pytest.approx(alpha)


def test_return_chance_reads_a_climb_from_trend_readings_on() -> None:
    # Below TREND_READINGS readings the chance is the flat level's, however steeply they rise.
    level, reach, ahead, gap = 0.8, 0.1, 20, 0.1
    steep = np.arange(TREND_READINGS, dtype=np.float64)
    flat = np.ones(TREND_READINGS)
    assert return_chance(steep[:-1], gap, reach, ahead, level) == pytest.approx(
        return_chance(flat[:-1], gap, reach, ahead, level)
    )
    assert return_chance(steep, gap, reach, ahead, level) < return_chance(flat, gap, reach, ahead, level) / 10
