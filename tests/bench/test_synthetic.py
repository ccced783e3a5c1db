"""The stop-quality bench's runs of known truth: what each kind's course is, and that a seed fixes them."""

from __future__ import annotations

import numpy as np
import pytest

from bench import synthetic


def test_synthetic_runs_are_the_same_for_a_seed_and_differ_between_seeds() -> None:
    assert synthetic.runs("healthy", 5, seed=3) == synthetic.runs("healthy", 5, seed=3)
    assert synthetic.runs("healthy", 5, seed=3) != synthetic.runs("healthy", 5, seed=4)
    assert synthetic.runs("healthy", 5) != synthetic.runs("overfit", 5)


@pytest.mark.parametrize("kind", synthetic.KINDS)
def test_synthetic_runs_plan_to_end_on_their_last_evaluation(kind: str) -> None:
    for run in synthetic.runs(kind, 30):
        steps = [s for s, _ in run.evals]
        assert len(steps) in synthetic.EVALS
        assert np.all(np.diff(steps) == synthetic.EVERY)
        assert run.config == {"max_steps": steps[-1], "eval_steps": synthetic.EVERY}
        assert run.end == steps[-1]
        assert all(np.isfinite(v) and v > 0 for _, v in run.evals)


def test_synthetic_healthy_course_falls_to_the_end() -> None:
    steps = np.arange(1, 51) * synthetic.EVERY
    for tau in synthetic.TIME_CONSTANTS:
        loss = synthetic.course("healthy", steps, tau * 5000, turn=1000, length=5000)
        assert np.all(np.diff(loss) < 0)
        assert int(np.argmin(loss)) == steps.size - 1


@pytest.mark.parametrize(("tau", "turn"), [(0.2, 0.3), (0.5, 0.5), (1.0, 0.7)])
def test_synthetic_overfit_course_turns_up_and_ends_above_its_best(tau: float, turn: float) -> None:
    steps = np.arange(1, 51) * synthetic.EVERY
    loss = synthetic.course("overfit", steps, tau * 5000, turn=turn * 5000, length=5000)
    best = int(np.argmin(loss))
    assert steps[best] >= turn * 5000 - synthetic.EVERY  # the climb starts at the turn, never before it
    assert best < steps.size - 1
    assert np.all(np.diff(loss[best:]) > 0)
    assert loss[-1] > loss[best] * 1.01


def test_synthetic_runs_refuse_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        synthetic.runs("diverging", 1)
