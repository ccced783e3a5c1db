"""A batch as arrays, one set per key: what ingest deduplicates, compares, summarises and writes.

Both wire forms end up here: row points (`{"key", "step", "value", "time"?}`) are grouped by key, and
columnar series (`{"key", "steps", "values", "times"?}`) are taken as they come. Values are float64 with
NaN and the infinities as themselves; a time of NaN means "not given" (the server's clock fills it in).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from losswatch.monitor.errors import Invalid
from losswatch.monitor.models import FLAG_FINITE, FLAG_NAN, FLAG_NEGINF, FLAG_POSINF
from losswatch.monitor.store.values import PointLike


@dataclass
class Columns:
    key: str
    steps: np.ndarray  # int64
    values: np.ndarray  # float64
    times: np.ndarray  # float64, NaN where not given

    @property
    def size(self) -> int:
        return int(self.steps.size)


def from_points(points: Sequence[PointLike]) -> list[Columns]:
    """Row points grouped by key, in the order each key first appears, each key's points in batch order."""
    by_key: dict[str, tuple[list[int], list[Any], list[float]]] = {}
    nan = float("nan")
    for p in points:
        cols = by_key.get(p.key)
        if cols is None:
            cols = by_key[p.key] = ([], [], [])
        cols[0].append(p.step)
        cols[1].append(p.value)
        cols[2].append(nan if p.time is None else p.time)
    return [_arrays(key, s, v, t) for key, (s, v, t) in by_key.items()]


def from_series(
    key: str, steps: Sequence[int], values: Sequence[Any], times: Sequence[float | None] | None, *, where: str
) -> Columns:
    """One columnar series; `where` names it in the error when its lists disagree in length."""
    if len(values) != len(steps):
        raise Invalid(f"{where}: {len(steps)} steps but {len(values)} values; they must pair up one to one")
    if times is not None and len(times) != len(steps):
        raise Invalid(f"{where}: {len(steps)} steps but {len(times)} times; they must pair up one to one")
    return _arrays(key, steps, values, times)


def _arrays(key: str, steps: Sequence[int], values: Sequence[Any], times: Sequence[float | None] | None) -> Columns:
    # The wire's "NaN" / "Infinity" / "-Infinity" (already validated) are what float() parses, so numpy
    # converts a mixed list in one call; a None time becomes NaN ("not given") the same way.
    return Columns(
        key,
        np.array(steps, dtype=np.int64),
        np.array(values, dtype=np.float64),
        np.full(len(steps), np.nan) if times is None else np.array(times, dtype=np.float64),
    )


def combine(parts: Iterable[Columns]) -> list[Columns]:
    """Parts of the same key concatenated in the order given (so a later one wins on a repeated step)."""
    by_key: dict[str, list[Columns]] = {}
    for c in parts:
        if c.size:
            by_key.setdefault(c.key, []).append(c)
    out = []
    for key, cs in by_key.items():
        if len(cs) == 1:
            out.append(cs[0])
        else:
            out.append(
                Columns(
                    key,
                    np.concatenate([c.steps for c in cs]),
                    np.concatenate([c.values for c in cs]),
                    np.concatenate([c.times for c in cs]),
                )
            )
    return out


def dedupe(c: Columns) -> tuple[Columns, int, int]:
    """Sorted by step with one point per step, the last one given (as across two batches); and how many
    were dropped: those whose value the kept point repeats (duplicates), and those it replaces with another
    value (overwritten). Each is counted against the value that wins, not against the one before it.
    Already sorted and unique, the common case, costs one pass."""
    s = c.steps
    if s.size < 2 or bool(np.all(s[1:] > s[:-1])):
        return c, 0, 0
    # Stable sort, then keep the last of each run of equal steps.
    order = np.argsort(s, kind="stable")
    ss = s[order]
    last = np.ones(ss.size, dtype=bool)
    last[:-1] = ss[1:] != ss[:-1]
    keep = order[last]
    # Each dropped point against the value kept for its step, compared as the store compares (a NaN repeats
    # a NaN, -0.0 repeats 0.0).
    group = np.cumsum(np.concatenate(([0], last[:-1].astype(np.int64))))
    kept = c.values[keep][group[~last]]
    dropped = order[~last]
    mine = c.values[dropped]
    same = int(np.count_nonzero((mine == kept) | (np.isnan(mine) & np.isnan(kept))))
    return Columns(c.key, s[keep], c.values[keep], c.times[keep]), same, int(dropped.size) - same


def digest(parts: Sequence[Columns]) -> str:
    """What a batch holds (keys, steps, values; not times, which a client may stamp again on a retry), as a
    short hash: a retried batch repeats it, a different batch under the same id does not."""
    h = hashlib.blake2b(digest_size=16)
    for c in parts:
        h.update(c.key.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
        h.update(np.ascontiguousarray(c.steps, dtype=np.int64).tobytes())
        h.update(np.ascontiguousarray(c.values, dtype=np.float64).tobytes())
    return h.hexdigest()


def flags_of(values: np.ndarray) -> np.ndarray:
    """The points table's flag per value: finite, NaN, +Inf or -Inf."""
    flags = np.full(values.size, FLAG_FINITE, dtype=np.int16)
    if not np.isfinite(values).all():
        flags[np.isnan(values)] = FLAG_NAN
        flags[values == np.inf] = FLAG_POSINF
        flags[values == -np.inf] = FLAG_NEGINF
    return flags
