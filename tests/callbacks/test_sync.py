"""No service during training: `losswatch sync` delivers the spool afterwards, and again changes nothing."""

from __future__ import annotations

import shutil

from losswatch.callbacks import LossWatchCallback
from tests.callbacks.conftest import NEVER_STOP, counts, logged, losswatch_cli, stored
from tests.tiny import overfitting_trainer

NOWHERE = "http://127.0.0.1:9"


def test_sync_delivers_a_spool_with_a_rewind_and_a_second_sync_changes_nothing(live_server, api, tmp_path) -> None:
    out = tmp_path / "out"
    first = LossWatchCallback(url=NOWHERE, run_name="offline", early_stopping=NEVER_STOP, end_timeout=0.5)
    t1 = overfitting_trainer(str(out), [first], max_steps=30, save_total_limit=None)
    t1.train()
    # A resume from an earlier checkpoint, still offline: the spool now holds a rewind to step 10.
    second = LossWatchCallback(url=NOWHERE, run_name="offline", early_stopping=NEVER_STOP, end_timeout=0.5)
    t2 = overfitting_trainer(str(out), [second], max_steps=20, save_total_limit=None)
    t2.train(resume_from_checkpoint=str(out / "checkpoint-10"))
    assert second.run_id == first.run_id
    spool = out / ".losswatch"
    copy = tmp_path / "spool-copy"
    shutil.copytree(spool, copy, ignore=shutil.ignore_patterns("spool.lock"))

    r = losswatch_cli("sync", str(spool), "--url", live_server.url)
    assert r.returncode == 0, r.stderr
    assert "1 rewinds (0 already applied)" in r.stdout
    expected = {
        **{s: v for s, v in logged(t1.state.log_history, "learning_rate").items() if s <= 10},
        **logged(t2.state.log_history, "learning_rate"),
    }
    assert stored(api, first.run_id, "learning_rate") == expected
    assert max(expected) == 20 and counts(api, first.run_id)["learning_rate"] == 20
    assert api.get(f"/runs/{first.run_id}").json()["status"] == "finished"

    again = losswatch_cli("sync", str(spool), "--url", live_server.url)
    assert again.returncode == 0 and "nothing to deliver" in again.stdout

    # Points sent after the rewind (a third session, online) must survive a replay of the old spool copy.
    third = LossWatchCallback(url=live_server.url, run_name="offline", early_stopping=NEVER_STOP)
    t3 = overfitting_trainer(str(out), [third], max_steps=25, save_total_limit=None)
    t3.train(resume_from_checkpoint=str(out / "checkpoint-20"))
    before = stored(api, first.run_id, "learning_rate")
    assert max(before) == 25
    replayed = losswatch_cli("sync", str(copy), "--url", live_server.url)
    assert replayed.returncode == 0, replayed.stderr
    assert "(1 already applied)" in replayed.stdout and "(0 new points" in replayed.stdout
    assert stored(api, first.run_id, "learning_rate") == before


def test_sync_of_a_damaged_spool_refuses_what_no_service_can_take_and_says_so(live_server, api, tmp_path) -> None:
    from losswatch.monitor.spool import Spool

    spool_dir = tmp_path / ".losswatch"
    spool = Spool(spool_dir)
    spool.append({"kind": "run", "run": {"id": "damaged-1", "name": "damaged"}})
    spool.append(
        {"kind": "metrics", "run_id": None, "batch_id": "b0", "points": [{"key": "loss", "step": 1, "value": 1}]}
    )
    spool.append(
        {"kind": "metrics", "run_id": "damaged-1", "batch_id": "b1", "points": [{"key": "loss", "step": 1, "value": 1}]}
    )
    spool.close()
    with open(spool_dir / "seg-00000001.jsonl", "ab") as f:
        f.write(b"[1, 2, 3]\n")
    r = losswatch_cli("sync", str(spool_dir), "--url", live_server.url)
    # Refused for good, not retried forever: the spool moves past them and the good records land.
    assert r.returncode == 0, r.stderr
    assert "2 records delivered, 2 refused (below): 1 batches" in r.stdout, r.stdout
    assert "without a valid run id (None)" in r.stderr and "not a JSON object (list)" in r.stderr
    assert counts(api, "damaged-1")["loss"] == 1
    assert "nothing to deliver" in losswatch_cli("sync", str(spool_dir), "--url", live_server.url).stdout
