"""Notifications: what happened to a run, told to the people who asked, through an outbox.

An event is written to `notification_outbox` in the same transaction as the change that causes it (a
decision to stop, a run finishing, a run found silent), one row per target that wants it. A worker
thread in each service process leases due rows through the database, renders them in the target's
format and language, posts them, and marks them done or backs off. So a kill at any moment loses no
message, and a message is delivered twice only if the kill falls between the receiver's answer and
the mark; its stable id lets the receiver drop that copy.
"""

from __future__ import annotations

from losswatch.monitor.vocabulary import LANGS, NOTIFY_EVENTS, NOTIFY_KINDS

EVENTS, KINDS = NOTIFY_EVENTS, NOTIFY_KINDS
# Not subscribable: a test message goes to whichever target it names.
TEST = "test"

__all__ = ["EVENTS", "KINDS", "LANGS", "TEST"]
