"""Mirrors: every run's points, decisions and diagnosis fed to TensorBoard and W&B by a background worker.

The worker reads what lies past each mirror's cursor (`mirror_cursors`), writes it out, then advances
the cursor, so ingest never waits on a mirror and a restart loses no mirror work. A lease in the
database lets one worker (of several processes or replicas) hold a run's mirror at a time.
"""

from __future__ import annotations

from losswatch.monitor.vocabulary import MIRROR_TARGETS

TARGETS = MIRROR_TARGETS
