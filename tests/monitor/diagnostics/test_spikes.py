from __future__ import annotations

import numpy as np
import pytest

from losswatch.monitor.diagnostics.spikes import MAX_SCAN, WARMUP, Z_CAP, find_spikes


def _noisy(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    steps = np.arange(1, n + 1, dtype=np.int64) * 10
    return steps, 1.0 + 0.5 * np.exp(-steps / 500.0) + np.random.default_rng(seed).normal(0, 0.01, n)


def test_single_spike_is_found_with_step_value_and_z() -> None:
    steps, x = _noisy(200)
    x[120] = 3.0
    spikes = find_spikes(steps, x, 1.0)
    assert spikes["count"] == 1
    (item,) = spikes["items"]
    assert item["step"] == int(steps[120]) and item["value"] == 3.0 and item["z"] > 50


def test_points_in_the_warmup_are_not_scored() -> None:
    steps, x = _noisy(100)
    x[WARMUP - 1] = 50.0
    spikes = find_spikes(steps, x, 1.0)
    assert spikes["count"] == 0 and spikes["scanned_from_step"] == int(steps[WARMUP])


def test_only_the_bad_direction_counts() -> None:
    steps, x = _noisy(100)
    x[60] = -5.0  # a sudden improvement of a loss
    assert find_spikes(steps, x, 1.0)["count"] == 0
    # Accuracy (mode max) is passed negated: a sudden drop is the bad direction, reported as logged.
    acc = 0.8 + np.random.default_rng(1).normal(0, 0.002, 100)
    acc[70] = 0.1
    spikes = find_spikes(steps, -acc, -1.0)
    assert [(s["step"], s["value"]) for s in spikes["items"]] == [(int(steps[70]), pytest.approx(0.1))]


def test_gaussian_noise_gives_no_false_spikes() -> None:
    rng = np.random.default_rng(2)
    x = 2.0 + rng.normal(0, 0.1, MAX_SCAN)
    assert find_spikes(np.arange(x.size, dtype=np.int64), x, 1.0)["count"] == 0


def test_flat_zero_line_has_no_spikes_and_a_jump_off_it_has_a_finite_z() -> None:
    steps = np.arange(60, dtype=np.int64)
    x = np.zeros(60)
    assert find_spikes(steps, x, 1.0)["count"] == 0
    x[50] = 0.5
    (item,) = find_spikes(steps, x, 1.0)["items"]
    assert item["z"] == Z_CAP


def test_only_the_most_recent_points_are_scanned() -> None:
    steps, x = _noisy(MAX_SCAN + 1000)
    x[100] = 9.0
    x[-5] = 9.0
    spikes = find_spikes(steps, x, 1.0)
    assert [s["step"] for s in spikes["items"]] == [int(steps[-5])]
    assert spikes["scanned_from_step"] == int(steps[1000])
