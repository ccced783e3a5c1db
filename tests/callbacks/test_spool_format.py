"""The spool on its own: order, ack and cleanup, torn lines, size warnings."""

from __future__ import annotations

import logging

import httpx
import pytest

from losswatch.callbacks.sender import Sender
from losswatch.monitor.spool import Spool, SpoolBusy, deliver


def test_spool_keeps_order_across_segments_and_deletes_what_was_delivered(tmp_path) -> None:
    spool = Spool(tmp_path, segment_bytes=200)
    for i in range(20):
        spool.append({"kind": "metrics", "i": i})
    got = list(spool.pending())
    assert [r["i"] for _, r in got] == list(range(20))
    assert len(spool.segments()) > 2
    spool.ack(got[9][0])
    assert [r["i"] for _, r in Spool(tmp_path).pending()] == list(range(10, 20))  # the cursor is on disk
    spool.ack(got[-1][0])
    assert list(spool.pending()) == [] and spool.unsent_bytes() == 0
    assert len(spool.segments()) == 1  # only the one being written remains


def test_spool_skips_a_torn_last_line_of_an_earlier_session(tmp_path) -> None:
    spool = Spool(tmp_path)
    spool.append({"kind": "metrics", "i": 0})
    spool.close()
    with open(tmp_path / "seg-00000001.jsonl", "ab") as f:
        f.write(b'{"kind": "metr')  # the process was killed mid-write
    later = Spool(tmp_path)
    later.append({"kind": "metrics", "i": 1})
    kinds = [r.get("i", r["kind"]) for _, r in later.pending()]
    assert kinds == [0, "torn", 1]


@pytest.mark.parametrize("line", [b"[1, 2, 3]\n", b"42\n", b'"metrics"\n'], ids=["list", "number", "string"])
def test_spool_record_that_is_not_an_object_is_refused_not_raised(tmp_path, line: bytes) -> None:
    spool = Spool(tmp_path)
    spool.append({"kind": "metrics", "i": 0})
    spool.close()
    with open(tmp_path / "seg-00000001.jsonl", "ab") as f:
        f.write(line)
    records = [r for _, r in Spool(tmp_path).pending()]
    assert records[0] == {"kind": "metrics", "i": 0}
    # No request is made for it: the record is refused before anything is sent.
    got = deliver(httpx.Client(base_url="http://127.0.0.1:9"), records[1], {})
    assert got.rejected is not None and "not a JSON object" in got.rejected


@pytest.mark.parametrize(
    "cursor",
    [
        '{"segment": 1, "offset": -50}',
        '{"segment": -1, "offset": 0}',
        '{"segment": 1e999, "offset": 0}',
        "not json",
        None,
    ],
    ids=["negative-offset", "negative-segment", "infinite-segment", "garbage", "a-folder"],
)
def test_spool_damaged_cursor_starts_over(tmp_path, cursor: str | None) -> None:
    spool = Spool(tmp_path)
    for i in range(3):
        spool.append({"kind": "metrics", "i": i})
    spool.close()
    if cursor is None:
        (tmp_path / "cursor.json").mkdir()
    else:
        (tmp_path / "cursor.json").write_text(cursor)
    assert [r["i"] for _, r in Spool(tmp_path).pending()] == [0, 1, 2]


def test_spool_is_held_by_one_process_at_a_time(tmp_path) -> None:
    first = Spool(tmp_path)
    first.lock()
    with pytest.raises(SpoolBusy):
        Spool(tmp_path).lock()  # flock is per open file, so this holds within a process too
    first.close()
    Spool(tmp_path).lock()


def test_sender_says_once_that_the_spool_is_large_and_drops_past_its_limit(tmp_path, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="losswatch")
    s = Sender(
        url="http://127.0.0.1:9",
        run={"id": "big", "name": "big"},
        spool_dir=tmp_path,
        batch_size=50,
        flush_interval=0.01,
        warn_bytes=20_000,
        max_bytes=60_000,
        advice=False,
    )
    for step in range(2000):
        s.put((step, {"loss": 1.0, "lr": 0.1}, 0.0))
    s.close(timeout=5)
    said = [r.getMessage() for r in caplog.records]
    assert sum("not yet delivered" in m for m in said) == 1
    assert sum("new points are dropped" in m for m in said) == 1
    assert sum("cannot be reached" in m for m in said) == 1
    assert 60_000 <= Spool(tmp_path).unsent_bytes() < 80_000


def test_sender_takes_a_refused_record_that_is_not_an_object_in_its_stride(tmp_path) -> None:
    # The live sender read `record.get` after a refusal: a damaged spool line stalled delivery for good.
    sender = Sender(url="http://127.0.0.1:9", run={"id": "r1", "name": "r"}, spool_dir=tmp_path, timeout=0.2)
    try:
        for record in ([1, 2, 3], 42):
            got = deliver(httpx.Client(base_url="http://127.0.0.1:9"), record, {})  # type: ignore[arg-type]
            assert got.rejected is not None
            sender._took(record, got)  # type: ignore[arg-type]
    finally:
        sender.close(timeout=0.1)
