"""Policy validation: what each compat mode honours, its library's defaults, and the native bounds."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from pydantic import ValidationError

from losswatch.monitor.compat import LIBRARIES
from losswatch.monitor.policy import Policy, stored_policy


@pytest.mark.parametrize("compat", ["hf", "lightning"])
def test_policy_compat_dump_reads_back_the_same(compat: Literal["hf", "lightning"]) -> None:
    policy = Policy(compat=compat, monitor="accuracy", patience=0, min_delta=-0.1)
    assert Policy(**policy.model_dump()) == policy == stored_policy(policy.model_dump())


@pytest.mark.parametrize("compat", ["hf", "lightning"])
def test_policy_compat_refuses_every_field_its_library_lacks(compat: Literal["hf", "lightning"]) -> None:
    lib = LIBRARIES[compat]
    others: dict[str, Any] = {
        "rule": "window",
        "delta_mode": "rel",
        "smoothing": 0.5,
        "min_steps": 10,
        "trend_window": 12,
        "trend_test": "improvement",
        "overfit_sigmas": 2.0,
        "regret": 0.05,
        "forecast_level": 0.9,
        "overfit_patience": 3,
        "stopping_threshold": 0.5,
        "divergence_threshold": 5.0,
        "check_finite": True,
    }
    lacking = {k: v for k, v in others.items() if k not in lib.honours}
    assert set(lacking) | set(lib.honours) | {"compat"} == set(Policy.model_fields)
    for name, value in lacking.items():
        with pytest.raises(ValidationError, match=f"has no option `{name}`"):
            Policy(compat=compat, **{name: value})


def test_policy_stored_by_an_earlier_version_still_loads() -> None:
    """Before compat fields were checked, a compat policy was stored with the native defaults in the fields
    its library lacks (and check_finite true under "hf"); the run must keep working."""
    legacy = Policy().model_dump() | {"compat": "hf", "min_delta": 0.0, "delta_mode": "abs", "patience": 3}
    with pytest.raises(ValidationError):
        Policy(**legacy)
    policy = stored_policy(legacy)
    assert (policy.patience, policy.rule, policy.check_finite, policy.monitor) == (3, "best", False, "eval_loss")


@pytest.mark.parametrize(
    "fields,says",
    [({"patience": 0}, "patience must be at least 1"), ({"min_delta": -0.001}, "min_delta must be >= 0")],
)
def test_policy_native_keeps_its_bounds(fields: dict, says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        Policy(**fields)


def test_policy_compat_defaults_are_the_libraries() -> None:
    hf, pl = Policy(compat="hf"), Policy(compat="lightning")
    assert (hf.monitor, hf.mode, hf.patience, hf.min_delta) == ("eval_loss", "min", 1, 0.0)
    assert (pl.mode, pl.patience, pl.min_delta, pl.check_finite, pl.min_steps) == ("min", 3, 0.0, True, 0)


@pytest.mark.parametrize(
    "data",
    [
        {"compat": [], "min_delta": None},
        {"compat": {"a": 1}},
        {"compat": "hf", "monitor": [1]},
        {"compat": "hf", "smoothing": []},
    ],
    ids=["compat-list", "compat-object", "hf-monitor-list", "hf-smoothing-list"],
)
def test_policy_malformed_compat_input_is_a_validation_error(data: dict) -> None:
    """Found by the API fuzzer: an unhashable compat value must be refused, not crash the validator."""
    with pytest.raises(ValidationError):
        Policy.model_validate(data)
