"""The client side of the columnar batch: points gathered per key into `{"key", "steps", "values", "times"?}`.

One object per key instead of one per point: about half the bytes, and the service decodes each list
straight into an array. Used by the trainer's sender, `losswatch import` and so `losswatch sync` (which
replays what the sender spooled). Plain Python: the training process imports this.
"""

from __future__ import annotations

from typing import Any

from losswatch.monitor.vocabulary import spell


class SeriesBuffer:
    """Points in arrival order per key; a later point at the same step wins on the service, as it would
    in a later batch."""

    def __init__(self) -> None:
        self._keys: dict[str, tuple[list[int], list[float | str], list[float | None]]] = {}
        self.size = 0

    def __bool__(self) -> bool:
        return self.size > 0

    def add(self, key: str, step: int, value: float, time: float | None = None) -> None:
        cols = self._keys.get(key)
        if cols is None:
            cols = self._keys[key] = ([], [], [])
        cols[0].append(step)
        cols[1].append(spell(value))
        cols[2].append(time)
        self.size += 1

    def series(self) -> list[dict[str, Any]]:
        out = []
        for key, (steps, values, times) in self._keys.items():
            item: dict[str, Any] = {"key": key, "steps": steps, "values": values}
            if any(t is not None for t in times):
                item["times"] = times
            out.append(item)
        return out


def halve(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A batch body (`series` and/or `points`) cut in two, the earlier steps first; None for one point.

    For a service that refuses a batch as too much work at once (413): the halves go one after the other,
    so the points arrive in step order as before, in smaller requests."""
    series = body.get("series") or []
    points = sorted(body.get("points") or [], key=lambda p: p["step"])
    steps = sorted([s for item in series for s in item["steps"]] + [p["step"] for p in points])
    if len(steps) < 2:
        return None
    mid = steps[len(steps) // 2 - 1]
    if mid == steps[-1]:
        mid = None  # every step is the same: cut by position instead

    def part(first: bool) -> dict[str, Any]:
        out_series = []
        for item in series:
            n = len(item["steps"])
            keep = [(s <= mid) if mid is not None else (i < (n + 1) // 2) for i, s in enumerate(item["steps"])]
            keep = keep if first else [not k for k in keep]
            if any(keep):
                cut = {"key": item["key"]}
                for col in ("steps", "values", "times"):
                    if col in item:
                        cut[col] = [v for v, k in zip(item[col], keep, strict=True) if k]
                out_series.append(cut)
        half = len(points) // 2
        out_points = [
            p for i, p in enumerate(points) if ((p["step"] <= mid) if mid is not None else (i < half)) == first
        ]
        out: dict[str, Any] = {}
        if out_series:
            out["series"] = out_series
        if out_points:
            out["points"] = out_points
        return out

    first, second = part(True), part(False)
    return (first, second) if first and second else None


def by_key(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    """A batch body (`series` and/or `points`) cut into one body per key, in the order the keys first come; None
    for a batch of one key.

    For a service that refuses a whole batch for one point it cannot take (422: a key beyond its limits, a run
    with too many keys): each key goes on its own, and only the refused key's points are lost."""
    groups: dict[str, dict[str, list[Any]]] = {}
    for item in body.get("series") or []:
        groups.setdefault(item["key"], {}).setdefault("series", []).append(item)
    for point in body.get("points") or []:
        groups.setdefault(point["key"], {}).setdefault("points", []).append(point)
    return list(groups.values()) if len(groups) > 1 else None
