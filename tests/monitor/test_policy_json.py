"""A policy given as JSON text (--early-stopping, LOSSWATCH_EARLY_STOPPING): read and checked as the service checks
it, before anything is sent."""

from __future__ import annotations

import pytest

from losswatch.monitor.policy_json import parse_policy


@pytest.mark.parametrize(
    ("text", "says"),
    [
        pytest.param('{"patience": 3', "not valid JSON", id="broken-json"),
        pytest.param("[1, 2]", "must be a JSON object, got list", id="not-an-object"),
        pytest.param('{"patience": "x"}', "patience: Input should be a valid integer (got 'x')", id="wrong-type"),
        pytest.param('{"nonsense": 1}', "nonsense: Extra inputs are not permitted", id="unknown-field"),
        pytest.param('{"patience": -1}', "patience: Input should be greater than or equal to 0", id="negative"),
    ],
)
def test_policy_json_refuses_with_the_field_and_the_reason(text: str, says: str) -> None:
    with pytest.raises(ValueError, match="early-stopping policy") as caught:
        parse_policy(text)
    assert says in str(caught.value)


@pytest.mark.parametrize(
    ("text", "policy"),
    [
        pytest.param(None, None, id="none"),
        pytest.param("  ", None, id="blank"),
        pytest.param('{"patience": 3}', {"patience": 3}, id="patience"),
        pytest.param('{"compat": "hf", "patience": 2}', {"compat": "hf", "patience": 2}, id="compat"),
    ],
)
def test_policy_json_passes_what_the_service_takes(text: str | None, policy: dict | None) -> None:
    assert parse_policy(text) == policy
