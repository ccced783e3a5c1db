"""The early-stopping policy a run asks for, the reasons a decision can give, and the decision itself."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Reason(str, Enum):
    NONE = "none"
    PATIENCE_EXHAUSTED = "patience_exhausted"
    PLATEAU = "plateau"
    STOPPING_THRESHOLD = "stopping_threshold"
    DIVERGENCE_THRESHOLD = "divergence_threshold"
    NON_FINITE = "non_finite"
    MANUAL = "manual"


class Policy(BaseModel):
    """Fields left out take the service's defaults, which are these field defaults.

    The default rule is chosen for stop quality on real curves (see bench/README.md): a noise-aware
    window rule on a lightly smoothed validation loss, so one lucky evaluation cannot hold a run
    that has stopped improving, and one unlucky one cannot stop a run that still is.
    """

    model_config = ConfigDict(extra="forbid")

    monitor: str = Field(default="eval_loss", min_length=1, max_length=200)
    mode: Literal["min", "max"] = "min"
    rule: Literal["best", "window", "trend"] = "best"
    patience: int = Field(default=3, ge=1, le=10_000)
    min_delta: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    delta_mode: Literal["abs", "rel"] = "abs"
    smoothing: float = Field(default=0.0, ge=0.0, lt=1.0)
    min_steps: int = Field(default=0, ge=0)
    trend_window: int = Field(default=10, ge=3, le=1_000)
    stopping_threshold: float | None = Field(default=None, allow_inf_nan=False)
    divergence_threshold: float | None = Field(default=None, allow_inf_nan=False)
    check_finite: bool = True
    compat: Literal["hf", "lightning"] | None = None


@dataclass
class Decision:
    should_stop: bool
    reason: Reason
    message: str
    step: int | None
    best_step: int | None
    best_value: float | None
    monitor: str
    checks: int = 0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["reason"] = self.reason.value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        fields = {k: data.get(k) for k in cls.__dataclass_fields__}
        fields["reason"] = Reason(data.get("reason", "none"))
        fields["checks"] = data.get("checks") or 0
        return cls(**fields)


Mode = Literal["min", "max"]
