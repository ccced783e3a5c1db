"""The sender's inbox: entries come out in the order they were put, a metrics point does not wake a waiting
reader, and anything urgent does (with what was put before it still first)."""

from __future__ import annotations

import queue
import threading
from typing import Any

import pytest

from losswatch.callbacks.inbox import Inbox


def reader(inbox: Inbox, got: list[tuple[int, Any, float]]) -> threading.Thread:
    t = threading.Thread(target=lambda: got.append(inbox.get(timeout=30)))
    t.start()
    return t


def test_inbox_metrics_point_leaves_the_reader_asleep_until_something_urgent() -> None:
    inbox = Inbox()
    got: list[tuple[int, Any, float]] = []
    t = reader(inbox, got)
    inbox.put(1, (10, {"loss": 1.0}, 0.0), urgent=False)
    t.join(0.3)
    assert t.is_alive(), "a metrics point woke the sender"
    inbox.put(2, {"kind": "status"}, urgent=True)
    t.join(10)
    assert not t.is_alive()
    assert got[0][:2] == (1, (10, {"loss": 1.0}, 0.0))  # the older entry first
    assert inbox.get_nowait()[:2] == (2, {"kind": "status"})


@pytest.mark.parametrize(
    "urgency",
    [[False] * 5, [True] * 5, [False, True, False, False, True], [True, False, False, False, False]],
    ids=["all-points", "all-urgent", "mixed", "urgent-then-points"],
)
def test_inbox_keeps_the_order_of_puts(urgency: list[bool]) -> None:
    inbox = Inbox()
    for ticket, urgent in enumerate(urgency, 1):
        inbox.put(ticket, f"item-{ticket}", urgent=urgent)
    out = [inbox.get(timeout=0.01) for _ in urgency]
    assert [e[0] for e in out] == list(range(1, len(urgency) + 1))
    assert [e[2] for e in out] == sorted(e[2] for e in out)  # put times, for the flush clock
    with pytest.raises(queue.Empty):
        inbox.get(timeout=0.01)


def test_inbox_urgent_put_wakes_a_waiting_reader() -> None:
    inbox = Inbox()
    got: list[tuple[int, Any, float]] = []
    t = reader(inbox, got)
    inbox.put(1, "flush", urgent=True)
    t.join(10)
    assert not t.is_alive() and got[0][:2] == (1, "flush")
