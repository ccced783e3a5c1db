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
