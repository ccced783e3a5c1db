"""The stop-quality bench's runs of known truth: what each kind's course is, and that a seed fixes them."""

from __future__ import annotations

import numpy as np
import pytest

from bench import synthetic
from bench.stop_quality import Outcome, synthetic_text


def test_synthetic_runs_are_the_same_for_a_seed_and_differ_between_seeds() -> None:
    assert synthetic.runs("healthy", 5, seed=3) == synthetic.runs("healthy", 5, seed=3)
    assert synthetic.runs("healthy", 5, seed=3) != synthetic.runs("healthy", 5, seed=4)
    healthy = [run.evals for run in synthetic.runs("healthy", 5)]
    overfit = [run.evals for run in synthetic.runs("overfit", 5)]
    assert all(h != o for h, o in zip(healthy, overfit, strict=True))


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


@pytest.mark.parametrize(("tau", "turn"), [(0.2, 0.3), (0.5, 0.5), (1.0, 0.7), (3.0, 0.7), (3.0, 0.1)])
def test_synthetic_overfit_course_turns_up_and_ends_above_its_best(tau: float, turn: float) -> None:
    steps = np.arange(1, 51) * synthetic.EVERY
    loss = synthetic.course("overfit", steps, tau * 5000, turn=turn * 5000, length=5000)
    best = int(np.argmin(loss))
    # The best is the last evaluation at or before the turn: however slow the fall, the climb wins after it.
    assert steps[best] == steps[steps <= turn * 5000][-1]
    assert np.all(np.diff(loss[: best + 1]) < 0)
    assert np.all(np.diff(loss[best:]) > 0)
    assert loss[-1] > loss[best] * 1.01


def test_synthetic_runs_refuse_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        synthetic.runs("diverging", 1)


def _outcomes(regrets: list[float | None]) -> dict[tuple[str, str], Outcome]:
    return {
        ("healthy", f"healthy {i}"): Outcome(None if r is None else 100 * (i + 1), r or 0.0, 0.0 if r is None else 0.5)
        for i, r in enumerate(regrets)
    }


def test_synthetic_text_counts_the_stops_beyond_the_goal() -> None:
    found = {
        # One stop within the goal, one beyond it, one run not stopped.
        "default": _outcomes([0.005, 0.05, None]),
        "hf p3": _outcomes([0.2, 0.3, 0.01]),
        "hindsight": _outcomes([0.0, 0.0, 0.0]),
    }
    text = synthetic_text(found, [0.003, 0.02, 0.06])
    assert "| healthy | 3 | 1 (33.3%) / 5.00% / 0.333 / 0.67 | 2 (66.7%) / 30.00% / 0.500 | 0.500 |" in text
    assert "quartiles: 0.3%, 2.0%, 6.0%" in text
