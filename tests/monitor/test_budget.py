"""The stopping work a request may do: estimated per policy, refused beyond the budget with the numbers."""

from __future__ import annotations

import pytest

from losswatch.monitor.budget import afford, check_ms
from losswatch.monitor.errors import LimitExceeded
from losswatch.monitor.policy import Policy


def test_budget_trend_costs_grow_with_the_square_of_the_window() -> None:
    small, big = Policy(rule="trend", trend_window=10), Policy(rule="trend", trend_window=1000)
    assert check_ms(Policy(rule="best")) < check_ms(small) < check_ms(big)
    assert check_ms(big) > 50 * check_ms(small)
    assert check_ms(Policy(compat="hf")) == check_ms(Policy(rule="best"))


@pytest.mark.parametrize(("checks", "refused"), [(0, False), (10, False), (10_000, True)], ids=["none", "few", "many"])
def test_budget_afford(checks: int, refused: bool) -> None:
    policy = Policy(rule="trend", trend_window=200)
    if refused:
        with pytest.raises(LimitExceeded, match="max_check_ms") as caught:
            afford(policy, checks, budget_ms=1000.0, what="this batch")
        assert "eval_loss" in str(caught.value) and "trend_window 200" in str(caught.value)
    else:
        afford(policy, checks, budget_ms=1000.0, what="this batch")


def test_budget_none_is_unbounded() -> None:
    afford(Policy(rule="trend", trend_window=1000), 10**9, budget_ms=None, what="x")
