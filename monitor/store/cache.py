"""An in-process cache of whole series, so drawing a million-point key does not re-read it each time.

Correct under several workers: every read first asks the database for the key's summary; an entry is
used only while the summary's `revision` is unchanged (only appends happened since), and then only
the points past the entry's last step are fetched. Bounded by a total number of points (LRU).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np


@dataclass
class Entry:
    revision: int
    steps: np.ndarray
    values: np.ndarray
    times: np.ndarray

    @property
    def size(self) -> int:
        return int(self.steps.size)


class SeriesCache:
    def __init__(self, max_points: int = 5_000_000) -> None:
        self.max_points = max_points
        self._entries: OrderedDict[int, Entry] = OrderedDict()
        self._points = 0
        self._lock = threading.Lock()

    def get(self, key_id: int, revision: int, count: int) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key_id)
            if entry is None or entry.revision != revision or entry.size > count:
                return None
            self._entries.move_to_end(key_id)
            return entry

    def put(self, key_id: int, entry: Entry) -> None:
        if entry.size > self.max_points:
            return
        with self._lock:
            old = self._entries.pop(key_id, None)
            self._points -= old.size if old else 0
            self._entries[key_id] = entry
            self._points += entry.size
            while self._points > self.max_points and self._entries:
                _, evicted = self._entries.popitem(last=False)
                self._points -= evicted.size
