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


def test_resume_with_a_more_patient_policy_trains_on_after_a_stop(live_server, api, tmp_path) -> None:
    # A person finds the stop too early, raises the patience and resumes from the last checkpoint: the
    # resumed launch's policy is the one in force, as the Trainer's own arguments are on a resume.
    out = tmp_path / "out"
    eager = {"compat": "hf", "patience": 1}
    first = LossWatchCallback(url=live_server.url, project="resume", run_name="r", early_stopping=eager)
    t1 = overfitting_trainer(str(out), [first], max_steps=120, save_total_limit=None)
    t1.train()
    stopped_at = t1.state.global_step
    assert stopped_at < 120 and api.get(f"/runs/{first.run_id}/decision").json()["should_stop"]

    second = LossWatchCallback(url=live_server.url, project="resume", run_name="r", early_stopping=NEVER_STOP)
    t2 = overfitting_trainer(str(out), [second], max_steps=120, save_total_limit=None)
    t2.train(resume_from_checkpoint=str(out / f"checkpoint-{stopped_at}"))

    assert second.run_id == first.run_id and t2.state.global_step == 120
    decision = api.get(f"/runs/{first.run_id}/decision").json()
    assert decision["should_stop"] is False and decision["step"] == 120
    assert api.get(f"/runs/{first.run_id}").json()["early_stopping"]["patience"] == NEVER_STOP["patience"]
