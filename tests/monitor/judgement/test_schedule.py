"""The run's plan read from its config."""

from __future__ import annotations

from typing import Any

import pytest

from losswatch.monitor.judgement.schedule import Schedule
from losswatch.monitor.vocabulary import MAX_STEP


@pytest.mark.parametrize(
    ("config", "planned"),
    [
        pytest.param({"max_steps": 3000}, 3000, id="max-steps"),
        pytest.param({"total_steps": "1200"}, 1200, id="llamafactory-total-steps-as-text"),
        pytest.param({"max_steps": -1, "total_steps": 500}, 500, id="hf-unset-max-steps"),
        pytest.param({"max_steps": MAX_STEP}, MAX_STEP, id="the-highest-step"),
        pytest.param({"max_steps": 2 * MAX_STEP}, None, id="beyond-any-step"),
        pytest.param({"max_steps": 1e300}, None, id="1e300"),
        pytest.param({"max_steps": "1e300"}, None, id="1e300-as-text"),
        pytest.param({"max_steps": float("inf")}, None, id="infinite"),
        pytest.param({"max_steps": "many"}, None, id="not-a-number"),
        pytest.param({}, None, id="no-plan"),
    ],
)
def test_schedule_planned_steps(config: dict[str, Any], planned: int | None) -> None:
    schedule = Schedule.from_config(config)
    assert schedule.planned_steps == planned
    # Without a plan the horizon is as far again as the run has come.
    assert schedule.horizon(100) == (planned if planned and planned > 100 else 200)


@pytest.mark.parametrize(
    ("step", "horizon"),
    [
        pytest.param(800, 1000, id="two-readings-to-go"),
        pytest.param(900, 1000, id="the-last-reading-lands-on-the-plan"),
        pytest.param(950, 1900, id="the-next-reading-would-be-past-the-plan"),
        pytest.param(1000, 2000, id="at-the-plan"),
        pytest.param(1500, 3000, id="past-the-plan"),
    ],
)
def test_schedule_horizon_is_the_plan_while_a_reading_is_left_before_it(step: int, horizon: int) -> None:
    assert Schedule.from_config({"max_steps": 1000}).horizon(step, every=100) == horizon


def test_schedule_warmup_ratio_needs_a_plan() -> None:
    assert Schedule.from_config({"max_steps": 1000, "warmup_ratio": 0.1}).warmup_steps == 100
    assert Schedule.from_config({"max_steps": 1e300, "warmup_ratio": 0.1}).warmup_steps == 0
