"""The early-stopping policy a run asks for, the reasons a decision can give, and the decision itself."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from losswatch.monitor.compat import LIBRARIES, NEUTRAL, hf_metric, hf_mode
from losswatch.monitor.vocabulary import Reason

__all__ = ["Decision", "Policy", "Reason"]


class Policy(BaseModel):
    """Fields left out take the service's defaults.

    The default is `rule: "forecast"` (monitor/judgement/rule.py): stop when continuing is not expected to
    buy what it costs - the readings since the best sit beyond their noise above it with no lucky draw
    left to win it back (overfitting), or the forecast to the planned end promises less than `min_delta`
    even at the optimistic end of its interval (levelling off). Its constants (`RULE_DEFAULTS`) are chosen
    by leave-one-out cross-validation over the shared real curves (bench/stop_quality.py, bench/README.md);
    they apply to the fields a forecast policy leaves out, so the classic rules keep their own defaults.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    monitor: str = Field(default="eval_loss", min_length=1, max_length=200)
    mode: Literal["min", "max"] = "min"
    rule: Literal["best", "window", "trend", "forecast"] = "forecast"
    # 0 and a negative min_delta have a meaning only under compat (the library's own); see _native_bounds.
    patience: int = Field(default=3, ge=0, le=10_000)
    min_delta: float = Field(default=0.005, allow_inf_nan=False)
    delta_mode: Literal["abs", "rel"] = "rel"
    smoothing: float = Field(default=0.0, ge=0.0, lt=1.0)
    min_steps: int = Field(default=0, ge=0)
    trend_window: int = Field(default=6, ge=3, le=1_000)
    # Who carries the burden of proof in `rule: "trend"`. "improvement": keep going only while the slope
    # is significantly improving (a noisy curve stops early: noise hides its progress). "plateau": stop
    # only once the interval shows that even the optimistic slope gains less than min_delta over the next
    # window (an equivalence test; noise keeps the run going until the data are conclusive).
    trend_test: Literal["improvement", "plateau"] = "plateau"
    # With rule "trend": also stop once the monitored value has stayed more than this many noise
    # sigmas above its best for `patience` checks in a row. The trend test lags on a U-turn (its window
    # still holds the fall); a rise of 3 sigmas of the eval-to-eval noise is not a bad draw but
    # overfitting. The noise is robust (MAD of successive differences), so a trend does not inflate it.
    overfit_sigmas: float | None = Field(default=3.0, gt=0, allow_inf_nan=False)
    # rule "forecast": the regret (relative excess of the kept best over the run's best) a stop may cost,
    # the interval of the forecast the levelling-off test reads, and how many readings since the best the
    # overfitting test needs at least, beside `patience` (it stops at the first check where they are out of
    # reach).
    regret: float = Field(default=0.01, gt=0.0, le=1.0, allow_inf_nan=False)
    forecast_level: float = Field(default=0.8, gt=0.0, lt=1.0, allow_inf_nan=False)
    overfit_patience: int = Field(default=2, ge=1, le=10_000)
    stopping_threshold: float | None = Field(default=None, allow_inf_nan=False)
    divergence_threshold: float | None = Field(default=None, allow_inf_nan=False)
    check_finite: bool = True
    compat: Literal["hf", "lightning"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _compat_fields(cls, data: Any, info: ValidationInfo) -> Any:
        """A compat policy mirrors a library: the fields it leaves out take that library's defaults (not the
        native ones, which mean nothing to transformers or Lightning), and a field the library has no
        counterpart for is refused unless it is at its neutral value. Filled in at validation, so that the
        policy stored with a run already carries them. A stored policy (context `stored`) was accepted
        once; what an earlier version wrote for such fields (the native defaults) is dropped, not refused."""
        compat = data.get("compat") if isinstance(data, dict) else None
        if not isinstance(compat, str) or compat not in LIBRARIES:
            return data  # anything else is for the field validators to refuse
        lib = LIBRARIES[compat]
        stored = bool(info.context and info.context.get("stored"))
        out: dict[str, Any] = {}
        for name, value in data.items():
            if name == "compat" or name in lib.honours or name not in cls.model_fields:
                out[name] = value  # unknown names are left to extra="forbid"
            elif not (_same(value, _neutral(name)) or stored):
                note = f" ({lib.notes[name]})" if name in lib.notes else ""
                raise ValueError(
                    f"{lib.name} has no option `{name}`{note}; compat {compat!r} honours only "
                    f"{', '.join(lib.honours)}. Leave `{name}` out, or use compat null for losswatch's own rules"
                )
        for name in cls.model_fields:
            if name != "compat" and name not in lib.honours:
                out[name] = _neutral(name)
        for name, value in lib.defaults.items():
            out.setdefault(name, value)
        if compat == "hf" and isinstance(out["monitor"], str):
            out.setdefault("mode", hf_mode(out["monitor"]))
            out["monitor"] = hf_metric(out["monitor"])
        return out

    @model_validator(mode="after")
    def _native_bounds(self) -> Policy:
        # The libraries accept these and give them a meaning (patience 0: stop at the first check without
        # improvement; a negative min_delta: a slightly worse value still counts as a new best), so compat
        # accepts them. losswatch's own rules would only misbehave with them.
        if self.compat is None and self.patience < 1:
            raise ValueError('patience must be at least 1 (0 is accepted under compat "hf" or "lightning" only)')
        if self.compat is None and self.min_delta < 0:
            raise ValueError('min_delta must be >= 0 (a negative one is accepted under compat "hf" or "lightning")')
        return self

    @model_validator(mode="before")
    @classmethod
    def _rule_defaults(cls, data: Any) -> Any:
        # The forecast rule's constants apply to the fields a native forecast policy leaves out, so the
        # classic rules keep their own defaults when named. Filled in at validation, stored with the run.
        if isinstance(data, dict) and data.get("compat") is None and data.get("rule", "forecast") == "forecast":
            return {**RULE_DEFAULTS, **data}
        return data


def _neutral(name: str) -> Any:
    return NEUTRAL[name] if name in NEUTRAL else Policy.model_fields[name].default


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def stored_policy(data: dict[str, Any] | None) -> Policy:
    """A run's policy as the store keeps it (see `_compat_fields`)."""
    return Policy.model_validate(data or {}, context={"stored": True})


# The forecast rule's constants, chosen by leave-one-out cross-validation over the shared curves
# (bench/stop_quality.py): the choice that saves the most steps on the other curves while keeping
# their worst regret within half the 1% goal.
RULE_DEFAULTS: dict[str, Any] = {
    "patience": 1,
    "min_delta": 0.0075,
    "delta_mode": "rel",
    "overfit_sigmas": 1.0,
    "overfit_patience": 2,
    "forecast_level": 0.8,
}


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
    # The key whose reading decided, when it is not the monitor: the training-loss guard stops a run that
    # monitors eval_loss on a NaN or diverged `loss`.
    key: str | None = None
    # The numbers the message states, by name, so that other languages can say the same (monitor/labels.py);
    # None where a rule gives only its message.
    facts: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["reason"] = self.reason.value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        fields: dict[str, Any] = {k: data.get(k) for k in cls.__dataclass_fields__}
        fields["reason"] = Reason(data.get("reason", "none"))
        fields["checks"] = data.get("checks") or 0
        return cls(**fields)


Mode = Literal["min", "max"]
