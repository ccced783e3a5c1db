"""An early-stopping policy given as JSON text: `--early-stopping` and `LOSSWATCH_EARLY_STOPPING`.

Shared by the commands and the training side, so it imports nothing but json; the service validates
the policy's fields and says what is wrong with them.
"""

from __future__ import annotations

import json
import os
from typing import Any

ENV = "LOSSWATCH_EARLY_STOPPING"


def parse_policy(text: str | None) -> dict[str, Any] | None:
    """The policy as a dict, None for no text; ValueError naming the problem for anything else."""
    if text is None or not text.strip():
        return None
    try:
        policy = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the early-stopping policy is not valid JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(policy, dict):
        raise ValueError(f"the early-stopping policy must be a JSON object, got {type(policy).__name__}")
    # Checked here as the service checks it, so a bad policy is said before anything is sent, also for a run
    # that already exists (whose creation, where the service would have said it, does not happen again). The
    # training environment needs nothing but httpx: without pydantic the service's check is the only one.
    try:
        from pydantic import ValidationError

        from losswatch.monitor.errors import field_errors
        from losswatch.monitor.policy import Policy
    except ImportError:
        return policy

    try:
        Policy.model_validate(policy)
    except ValidationError as exc:
        said = field_errors(exc.errors(), whole="policy")
        raise ValueError(f"the early-stopping policy is not valid: {said}") from exc
    return policy


def policy_from_env() -> dict[str, Any] | None:
    return parse_policy(os.environ.get(ENV))
