"""The words losswatch speaks everywhere: one spelling, one list, one rule each.

Every module that names a run status, a stop reason, a smoothing mode or a mirror target, spells a
non-finite value or decides which key is the validation key imports it from here; the pages read the
same lists from `GET /api/v1/vocabulary`.
"""

from __future__ import annotations

import math
import re
from enum import Enum
from typing import Any, Literal, get_args

# Non-finite values travel as these strings in JSON, in both directions (JSON has no NaN).
NAN, POS_INF, NEG_INF = "NaN", "Infinity", "-Infinity"
NonFiniteSpelling = Literal["NaN", "Infinity", "-Infinity"]
NON_FINITE_SPELLINGS = {NAN: math.nan, POS_INF: math.inf, NEG_INF: -math.inf}


def spell(value: float) -> float | str:
    """A float as the wire carries it: itself when finite, otherwise "NaN" / "Infinity" / "-Infinity"."""
    if value - value == 0.0:  # finite, without a function call: this runs once per point sent
        return value
    if math.isnan(value):
        return NAN
    return POS_INF if value > 0 else NEG_INF


def unspell(value: float | int | str) -> float:
    """The inverse of `spell`: a number, or one of the three spellings; anything else is a ValueError."""
    if isinstance(value, str):
        try:
            return NON_FINITE_SPELLINGS[value]
        except KeyError:
            raise ValueError(
                f"{value!r} is not a number (non-finite values are spelled NaN, Infinity, -Infinity)"
            ) from None
    return float(value)


RunStatus = Literal["running", "finished", "failed", "stopped"]
# What a person or a trainer may set; `stale` is read, never written: a running run that went silent.
STATUSES: tuple[str, ...] = get_args(RunStatus)
# The highest step a point may carry (exact in a float64, within a signed 64-bit column); the `max_step`
# setting may lower it. A planned length beyond it is no plan.
MAX_STEP = 2**53
# What the service takes by default (`max_step`): a trillion steps is beyond any real run.
DEFAULT_MAX_STEP = 10**12

# The API's prefix under the service's root URL.
API = "/api/v1"


def service_root(url: str) -> str:
    """The service's root URL; the API's own prefix (`.../api/v1`) is accepted and taken off."""
    root = url.strip().rstrip("/")
    if root.endswith(API):
        root = root[: -len(API)].rstrip("/")
    return root


# The longest metric key the service takes; the `max_key_length` setting may lower it.
MAX_KEY_LENGTH = 200


def point_problem(key: str, step: int) -> str | None:
    """Why the service would refuse a point with this key and step whatever its settings, or None (its settings may
    lower the limits: a batch it refuses for them goes again key by key, monitor/spool.py).

    The trainer-side sender drops such a point before sending: the service refuses the whole batch it is in."""
    return key_problem(key) or step_problem(step)


# C0 controls and DEL: a key is a name (a TensorBoard tag, a W&B chart, a path segment), never a line break or
# a tab; one that holds them is stored, but no URL or chart reads it back as it was sent.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def control_problem(key: str) -> str | None:
    if "\x00" in key:
        return f"a key with a NUL character ({key!r})"
    if _CONTROL.search(key):
        return f"a key with a control character such as a newline or a tab ({key!r})"
    return None


def key_problem(key: str) -> str | None:
    if not key.strip():
        return f"a blank key ({key!r})"
    if why := control_problem(key):
        return why
    if len(key) > MAX_KEY_LENGTH:
        return f"a key longer than {MAX_KEY_LENGTH} characters ({key[:40]}...)"
    return None


def step_problem(step: int) -> str | None:
    return None if 0 <= step <= MAX_STEP else f"step {step}, outside 0..{MAX_STEP}"


def llamaboard_enabled(value: str | None) -> bool:
    """Whether LLAMABOARD_ENABLED (set when LLaMA-Factory's web UI launches training) is on, read as
    LLaMA-Factory's own is_env_enabled reads it."""
    return (value or "").strip().lower() in ("1", "true", "y")


# What a run id holds: safe in a URL path segment, a file name and a shell word as it is.
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


def is_run_id(text: object) -> bool:
    """Whether `text` is a run id the service can hold (the whole of it: no trailing newline slips through)."""
    return isinstance(text, str) and _RUN_ID.fullmatch(text) is not None


STALE = "stale"
# A run in one of these is over: nothing it shows asks a person to act on the training any more.
ENDED_STATUSES: tuple[str, ...] = ("finished", "failed", "stopped")
SHOWN_STATUSES: tuple[str, ...] = (*STATUSES, STALE)
ShownStatus = Literal["running", "finished", "failed", "stopped", "stale"]

SmoothingMode = Literal["tensorboard", "llamafactory", "none"]
SMOOTHING_MODES: tuple[str, ...] = get_args(SmoothingMode)
DEFAULT_SMOOTHING = 0.6  # TensorBoard's own default weight

MirrorTarget = Literal["tensorboard", "wandb"]
MIRROR_TARGETS: tuple[str, ...] = get_args(MirrorTarget)

# Notifications: where a message can go, what a target may subscribe to, the languages it speaks.
NotifyKind = Literal["webhook", "slack", "discord", "feishu", "dingtalk", "wecom"]
NOTIFY_KINDS: tuple[str, ...] = get_args(NotifyKind)
NotifyEvent = Literal["stop", "diverging", "overfitting", "non_finite", "stale", "finished"]
NOTIFY_EVENTS: tuple[str, ...] = get_args(NotifyEvent)
Lang = Literal["en", "zh"]
LANGS: tuple[str, ...] = get_args(Lang)


class Reason(str, Enum):
    """Why a decision says what it says (DESIGN.md's list)."""

    NONE = "none"
    PATIENCE_EXHAUSTED = "patience_exhausted"
    PLATEAU = "plateau"
    STOPPING_THRESHOLD = "stopping_threshold"
    DIVERGENCE_THRESHOLD = "divergence_threshold"
    NON_FINITE = "non_finite"
    MANUAL = "manual"


# The validation key rule: HF's `eval_*`, and `val/...`, `validation_loss`, `test_acc` and the like.
EVAL_KEY_PATTERN = r"(^|[/_.\-])(eval|val|valid|validation|test)([/_.\-]|$)"
_EVAL_RE = re.compile(EVAL_KEY_PATTERN, re.IGNORECASE)
EVAL_LOSS, TRAIN_LOSS = "eval_loss", "loss"
# What the Trainer logs once, at the end of training: run-wide facts, not curves.
END_OF_TRAINING_KEYS = (
    "train_loss",
    "train_runtime",
    "train_samples_per_second",
    "train_steps_per_second",
    "total_flos",
)


def is_eval_key(key: str) -> bool:
    return bool(_EVAL_RE.search(key))


def headline_key(keys: list[str] | set[str]) -> str | None:
    """The key a person reads first: validation loss, then training loss, then any loss, then any key."""
    for candidate in (EVAL_LOSS, TRAIN_LOSS):
        if candidate in keys:
            return candidate
    ordered = sorted(keys)
    return next((k for k in ordered if "loss" in k), None) or next(iter(ordered), None)


def companion_key(key: str, keys: list[str] | set[str] | None = None) -> str | None:
    """The other half of a train/validation pair: `eval_loss` <-> `loss`, `val_x` / `eval_x` <-> `x`.

    Without `keys`, the conventional name; with them, only a key that exists.
    """
    if is_eval_key(key):
        base = _EVAL_RE.sub(lambda m: m.group(1) if m.group(3) in ("", None) else "", key, count=1).strip("/_.-")
        candidates = [base or TRAIN_LOSS, TRAIN_LOSS]
    else:
        candidates = [f"eval_{key}", f"val_{key}", EVAL_LOSS]
    for candidate in candidates:
        if candidate != key and (keys is None or candidate in keys):
            return candidate
    return None


def as_dict() -> dict[str, Any]:
    """The vocabulary as the pages read it."""
    return {
        "statuses": list(SHOWN_STATUSES),
        "reasons": [r.value for r in Reason],
        "smoothing_modes": list(SMOOTHING_MODES),
        "default_smoothing": DEFAULT_SMOOTHING,
        "mirror_targets": list(MIRROR_TARGETS),
        "notify_kinds": list(NOTIFY_KINDS),
        "notify_events": list(NOTIFY_EVENTS),
        "langs": list(LANGS),
        "non_finite": [NAN, POS_INF, NEG_INF],
        "eval_key_pattern": EVAL_KEY_PATTERN,
        "eval_loss": EVAL_LOSS,
        "train_loss": TRAIN_LOSS,
        "end_of_training_keys": list(END_OF_TRAINING_KEYS),
    }


# Shares (percentages) smaller than this are float residue (a forecast's gain on a constant curve), stated as 0%.
SHARE_RESIDUE = 1e-9
