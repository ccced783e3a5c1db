"""TensorBoard event files, as transformers' TensorBoardCallback writes them."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .base import ImportedLog, Record, log_name
from .clean import clean
from .errors import UnreadableLog

FORMAT = "tensorboard"
EVENT_FILE_MARK = "tfevents"


def is_event_file(path: Path) -> bool:
    return path.is_file() and EVENT_FILE_MARK in path.name


def metric_key(tag: str) -> str:
    """Undo transformers' `rewrite_logs`: eval_x → eval/x, test_x → test/x, anything else → train/x."""
    for prefix in ("eval", "test"):
        if tag.startswith(prefix + "/"):
            return f"{prefix}_{tag[len(prefix) + 1 :]}"
    if tag.startswith("train/"):
        return tag[len("train/") :]
    return tag


def event_source(path: Path) -> tuple[Path, list[Path]]:
    """What EventAccumulator should read for `path`, and the event files that make it up."""
    if path.is_file():
        return path, [path]
    direct = sorted(p for p in path.iterdir() if is_event_file(p))
    if direct:
        return path, direct
    nested = sorted(p for p in path.rglob(f"*{EVENT_FILE_MARK}*") if p.is_file())
    folders = sorted({p.parent for p in nested})
    if not folders:
        raise UnreadableLog(path, "no TensorBoard event files (events.out.tfevents.*) in this folder")
    if len(folders) > 1:
        # Several runs side by side (runs/<date>_<host>/...): merging them would mix curves.
        listing = ", ".join(str(f.relative_to(path)) for f in folders[:5])
        raise UnreadableLog(path, f"event files of {len(folders)} runs in this folder; import one of them: {listing}")
    return folders[0], nested


def read(path: Path) -> ImportedLog:
    try:
        from tensorboard.backend.event_processing import event_accumulator as ea
    except ImportError as exc:  # an optional extra: say how to get it rather than fail on import
        needs = "reading TensorBoard logs needs the tensorboard package: pip install 'losswatch[tensorboard]'"
        raise UnreadableLog(path, needs) from exc

    class _Accumulator(ea.EventAccumulator):
        """Records the steps where TensorBoard's own restart handling purged orphaned events."""

        purges: list[int]

        def _Purge(self, event, by_tags):  # noqa: N802 (overrides TensorBoard's name)
            self.purges.append(event.step)
            super()._Purge(event, by_tags)

    source, files = event_source(path)
    # size 0 keeps every scalar: the default reservoir samples 10,000 per tag and would thin long runs
    acc = _Accumulator(str(source), size_guidance={ea.SCALARS: 0})
    acc.purges = []
    try:
        acc.Reload()
    except Exception as exc:  # corrupt records surface as several exception types from the reader
        raise UnreadableLog(path, f"TensorBoard could not read the event files: {exc}") from exc

    events = [
        (event.wall_time, event.step, metric_key(tag), event.value)
        for tag in acc.Tags()[ea.SCALARS]
        for event in acc.Scalars(tag)
    ]
    if not events:
        raise UnreadableLog(path, "the event files hold no scalar summaries")
    # Wall time is the only order shared across tags; it puts a resumed writer after the one it replaces.
    # The sort is stable, so events written in the same instant keep the order they were read in.
    events.sort(key=lambda e: e[0])
    records = [
        Record(line, step, {key: value}, time=wall_time)
        for line, (wall_time, step, key, value) in enumerate(events, start=1)
    ]
    cleaned = clean(records, unit="event")
    notes = [
        f"TensorBoard restart purge at step {step}: later events of the old session discarded" for step in acc.purges
    ]
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.read_bytes())
    return ImportedLog(
        name=log_name(path),
        config={},
        points=cleaned.points,
        source_format=FORMAT,
        notes=notes + cleaned.notes,
        fingerprint=digest.hexdigest(),
        rewinds=[r.to_step for r in cleaned.rewinds],
    )
