"""Conversion between floats and the (value, flag) pair the points table stores."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from losswatch.monitor.models import FLAG_FINITE, FLAG_NAN, FLAG_NEGINF, FLAG_POSINF


class PointLike(Protocol):
    """What ingest reads of a point: the API's decoded wire points and PointIn alike."""

    # Read-only members, so that structs with narrower field types (the wire's Literal spellings) fit.
    @property
    def key(self) -> str: ...
    @property
    def step(self) -> int: ...
    @property
    def value(self) -> float | str: ...  # a number, or "NaN" / "Infinity" / "-Infinity" as the wire spells them
    @property
    def time(self) -> float | None: ...


@dataclass(frozen=True)
class PointIn:
    key: str
    step: int
    value: float
    time: float | None = None


_SPELLED = {"NaN": (None, FLAG_NAN), "Infinity": (None, FLAG_POSINF), "-Infinity": (None, FLAG_NEGINF)}


def encode(value: float | str) -> tuple[float | None, int]:
    """(value, flag) for the points table; accepts the wire's spelling of non-finite values."""
    if isinstance(value, str):
        return _SPELLED[value]
    value = float(value)
    if value - value == 0.0:  # finite, without a function call: this runs for every ingested point
        return value, FLAG_FINITE
    if math.isnan(value):
        return None, FLAG_NAN
    return None, FLAG_POSINF if value > 0 else FLAG_NEGINF


_DECODE = {FLAG_NAN: math.nan, FLAG_POSINF: math.inf, FLAG_NEGINF: -math.inf}


def decode(value: float | None, flag: int) -> float:
    if flag == FLAG_FINITE and value is not None:
        return float(value)
    return _DECODE.get(flag, math.nan)


def decode_array(values: np.ndarray, flags: np.ndarray) -> np.ndarray:
    out = values.astype(np.float64, copy=True)
    out[flags == FLAG_NAN] = np.nan
    out[flags == FLAG_POSINF] = np.inf
    out[flags == FLAG_NEGINF] = -np.inf
    return out
