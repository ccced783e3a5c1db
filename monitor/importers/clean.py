"""Turn records as they were written into exactly one point per logged (key, step).

Real logs are messy: two processes may log every step into one file, their lines a few steps
out of order, and a run resumed from a checkpoint writes again from the checkpoint's step into
the same file. The rules, applied in the order the records were written:

- A value that is not a number (null, bool, free text) is skipped; the key's other values stay.
- A record whose step no point can carry (below 0, beyond MAX_STEP) and a value under a key no series can
  have (blank, or holding a NUL) are skipped: one such line must not cost the whole import.
- Duplicates: the same (key, step) logged again replaces the earlier value (the later line wins).
- Jitter: a record behind the highest step seen so far is sorted into place.
- Rewind: a step regression is a resume, not jitter, when BOTH
  (a) it goes back by more than `jitter_intervals` (5) log intervals from the highest step of
      the current branch (log interval = the most common gap between consecutive distinct steps), and
  (b) the log keeps going from there: the next `confirm` (3) distinct steps written after it all
      stay below that highest step (a stray late line is followed by the frontier again).
  Every point kept so far with a step past the new step belongs to the abandoned branch and is
  removed; the resumed run re-logs what it re-logs, and what it does not is gone.
  A rewind small enough to count as jitter loses little: the resumed run re-logs those steps
  within a few records and the later values win anyway.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import islice, pairwise

from losswatch.monitor.vocabulary import MAX_STEP, control_problem

from .base import Point, Record, plural, to_float


@dataclass(frozen=True)
class Rewind:
    line: int
    from_step: int  # the step of the record just before the rewind
    highest_step: int  # the highest step the abandoned branch reached
    to_step: int
    abandoned: int  # points of the abandoned branch past to_step, removed at the rewind
    relogged: int  # of those, how many (key, step) the resumed run logged again

    @property
    def dropped(self) -> int:
        return self.abandoned - self.relogged


@dataclass
class Cleaned:
    points: list[Point]
    notes: list[str] = field(default_factory=list)
    duplicates: int = 0  # extra points collapsed into an existing (key, step)
    conflicting: int = 0  # of those, how many carried a different value
    out_of_order: int = 0  # records sorted back into place
    rewinds: list[Rewind] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # key -> values that were not numbers
    bad_steps: list[int] = field(default_factory=list)  # lines whose step no point can carry
    bad_keys: int = 0  # values under a blank key or one holding a NUL or another control character


def log_interval(steps: Sequence[int]) -> int:
    """The most common gap between consecutive distinct steps (the logging interval); 1 if unknown."""
    distinct = sorted(set(steps))
    gaps = Counter(b - a for a, b in pairwise(distinct))
    if not gaps:
        return 1
    top = max(gaps.values())
    # On a tie the smaller gap wins: the tolerance stays tight, and rule (b) still keeps jitter from
    # being taken for a rewind.
    return min(gap for gap, count in gaps.items() if count == top)


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _keeps_going(records: Sequence[Record], index: int, highest: int, confirm: int) -> bool:
    """Whether the records after `index` continue below `highest` (a resumed run) rather than return to it."""
    start = records[index].step
    seen: list[int] = []
    for rec in islice(records, index + 1, None):
        if rec.step == start or rec.step in seen:
            continue
        if rec.step >= highest:
            return False
        seen.append(rec.step)
        if len(seen) == confirm:
            break
    # A regression on the very last record has nothing after it to prove a resume; keeping its
    # points (as jitter) loses nothing, dropping the branch on a stray line would.
    return bool(seen)


def clean(
    records: Sequence[Record],
    *,
    unit: str = "line",
    jitter_intervals: int = 5,
    confirm: int = 3,
) -> Cleaned:
    """Apply the rules of this module to `records` in the order they were written."""
    out_of_range = [r.line for r in records if not 0 <= r.step <= MAX_STEP]
    if out_of_range:
        records = [r for r in records if 0 <= r.step <= MAX_STEP]
    tolerance = jitter_intervals * log_interval([r.step for r in records])
    kept: dict[tuple[str, int], tuple[float, float | None]] = {}
    out = Cleaned(points=[], bad_steps=out_of_range)
    gone_by_rewind: list[tuple[int, int, int, int, set[tuple[str, int]]]] = []
    highest: int | None = None
    previous: int | None = None
    behind_most = 0
    skipped_null: Counter[str] = Counter()
    skipped_text: Counter[str] = Counter()

    for index, rec in enumerate(records):
        if highest is not None and rec.step < highest:
            if highest - rec.step > tolerance and _keeps_going(records, index, highest, confirm):
                gone = {ks for ks in kept if ks[1] > rec.step}
                for ks in gone:
                    del kept[ks]
                gone_by_rewind.append(
                    (rec.line, previous if previous is not None else highest, highest, rec.step, gone)
                )
                highest = rec.step
            else:
                out.out_of_order += 1
                behind_most = max(behind_most, highest - rec.step)
        highest = rec.step if highest is None else max(highest, rec.step)
        previous = rec.step

        for key, raw in rec.values.items():
            if not key.strip() or control_problem(key):
                out.bad_keys += 1
                continue
            value = to_float(raw)
            if value is None:
                (skipped_null if raw is None else skipped_text)[key] += 1
                continue
            old = kept.get((key, rec.step))
            if old is not None:
                out.duplicates += 1
                if not _same(old[0], value):
                    out.conflicting += 1
            kept[(key, rec.step)] = (value, rec.time)

    out.points = [
        Point(key, step, value, time)
        for (key, step), (value, time) in sorted(kept.items(), key=lambda item: (item[0][1], item[0][0]))
    ]
    for line, from_step, top, to_step, gone in gone_by_rewind:
        relogged = sum(1 for ks in gone if ks in kept)
        out.rewinds.append(Rewind(line, from_step, top, to_step, len(gone), relogged))
    out.skipped = dict(sorted((skipped_null + skipped_text).items()))
    out.notes = _notes(out, unit, behind_most, skipped_null, skipped_text)
    return out


def _notes(out: Cleaned, unit: str, behind_most: int, nulls: Counter[str], texts: Counter[str]) -> list[str]:
    notes: list[str] = []
    if out.duplicates and not out.conflicting:
        notes.append(f"collapsed {plural(out.duplicates, 'repeated point')} (same key, step and value)")
    elif out.duplicates:
        notes.append(
            f"collapsed {plural(out.duplicates, 'duplicate point')}; {out.conflicting} had a different value "
            f"and the later {unit}'s was kept"
        )
    if out.out_of_order:
        notes.append(
            f"sorted {plural(out.out_of_order, 'out-of-order ' + unit)} into place (at most {behind_most} steps behind)"
        )
    for r in out.rewinds:
        notes.append(
            f"rewind at {unit} {r.line}: {r.from_step} → {r.to_step} (highest step so far {r.highest_step}); "
            f"{r.abandoned} abandoned points past step {r.to_step}: {r.relogged} re-logged by the resumed "
            f"run, dropped {r.dropped}"
        )
    if out.bad_steps:
        shown = ", ".join(str(n) for n in out.bad_steps[:5]) + (", …" if len(out.bad_steps) > 5 else "")
        notes.append(
            f"skipped {plural(len(out.bad_steps), unit)} whose step is below 0 or beyond {MAX_STEP} ({unit} {shown})"
        )
    if out.bad_keys:
        notes.append(f"skipped {plural(out.bad_keys, 'value')} under a blank key or one holding a control character")
    for what, counter in (("null", nulls), ("non-numeric", texts)):
        if counter:
            keys = ", ".join(f"{k}×{n}" for k, n in sorted(counter.items()))
            notes.append(f"skipped {plural(sum(counter.values()), what + ' value')} ({keys})")
    return notes
