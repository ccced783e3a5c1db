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
