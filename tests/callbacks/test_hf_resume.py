"""Resume from an earlier checkpoint: one run, the abandoned steps replaced, nothing doubled."""

from __future__ import annotations

from losswatch.callbacks import LossWatchCallback
from tests.callbacks.conftest import NEVER_STOP, counts, logged, stored
from tests.tiny import overfitting_trainer


def test_resume_from_an_earlier_checkpoint_continues_the_run_and_rewinds(live_server, api, tmp_path) -> None:
    out = tmp_path / "out"
    first = LossWatchCallback(url=live_server.url, project="resume", run_name="r", early_stopping=NEVER_STOP)
    t1 = overfitting_trainer(str(out), [first], max_steps=40, save_total_limit=None)
    t1.train()
    assert (out / "checkpoint-15" / "losswatch.json").exists()

    # A shorter schedule from step 15: the learning rates past 15 differ, and steps 31..40 are abandoned.
    second = LossWatchCallback(url=live_server.url, project="resume", run_name="r", early_stopping=NEVER_STOP)
    t2 = overfitting_trainer(str(out), [second], max_steps=30, save_total_limit=None)
    t2.train(resume_from_checkpoint=str(out / "checkpoint-15"))

    assert second.run_id == first.run_id
    assert [r["id"] for r in api.get("/runs", params={"project": "resume"}).json()["runs"]] == [first.run_id]
    for key in ("loss", "learning_rate", "eval_loss"):
        kept = {s: v for s, v in logged(t1.state.log_history, key).items() if s <= 15}
        assert stored(api, first.run_id, key) == {**kept, **logged(t2.state.log_history, key)}, key
    assert counts(api, first.run_id)["loss"] == 30
    assert stored(api, first.run_id, "learning_rate")[20] != logged(t1.state.log_history, "learning_rate")[20]
