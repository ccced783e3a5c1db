"""The forecast bench's cross-validation: a run held out never helps choose the constants it is judged with."""

from __future__ import annotations

import numpy as np
import pytest

from bench.forecast import FITTED, INTERVAL_SCALE, SCALES, SHIPPED, Cut, Seen, Setting, choose, held_out

ONE: Setting = SHIPPED
OTHER: Setting = FITTED


def _cut(name: str, errors: dict[Setting, float], share: float = 0.5) -> Cut:
    """A run whose forecasts under each setting miss its logged value (1.0, over a seen range of 1.0) by the given
    errors, with intervals that hold it at every widening: the forecasts are filled in, nothing is fitted."""
    run = Seen(np.array([100.0, 200.0]), np.array([2.0, 1.0]), 400, 1.0)
    cut = Cut(name, share, run, power_law=1.0)
    for setting, err in errors.items():
        for scale in SCALES:
            cut.made[setting, scale] = (1.0 + err, 0.0, 3.0)
    return cut


def test_choose_takes_the_lowest_mean_error() -> None:
    data = [_cut("a", {ONE: 0.1, OTHER: 0.3}), _cut("b", {ONE: 0.2, OTHER: 0.1})]
    assert choose(data, [ONE, OTHER])[0] == ONE  # mean 0.15 against 0.2


def test_held_out_chooses_without_the_run_it_judges() -> None:
    # Run "c" is the only one where OTHER is better, and by so much that with it in, OTHER wins on the mean. Held
    # out, "c" must be judged with the choice of "a" and "b" alone (ONE), and they with a choice "c" sways (OTHER).
    data = [
        _cut("a", {ONE: 0.1, OTHER: 0.2}),
        _cut("b", {ONE: 0.1, OTHER: 0.2}),
        _cut("c", {ONE: 2.0, OTHER: 0.0}),
        _cut("c", {ONE: 2.0, OTHER: 0.0}, share=0.7),
    ]
    chosen = {(h.cut.name, h.cut.share): h.setting for h in held_out(data, [ONE, OTHER])}
    assert chosen == {("a", 0.5): OTHER, ("b", 0.5): OTHER, ("c", 0.5): ONE, ("c", 0.7): ONE}


def test_held_out_errors_are_the_chosen_forecasts() -> None:
    data = [_cut("a", {ONE: 0.1, OTHER: 0.2}), _cut("b", {ONE: 0.3, OTHER: 0.4})]
    held = held_out(data, [ONE, OTHER])
    assert [h.err for h in held] == pytest.approx([0.1, 0.3]) and all(h.covered for h in held)
    assert {h.scale for h in held} <= set(SCALES) and INTERVAL_SCALE in SCALES
