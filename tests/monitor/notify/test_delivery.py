"""Delivery through the outbox to a real receiver on loopback, the worker driven pass by pass."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from losswatch.monitor.db import writer
from losswatch.monitor.models import OutboxMessage, Run
from losswatch.monitor.notify import targets
from losswatch.monitor.notify.worker import NotifyWorker
from losswatch.monitor.policy import Decision, Policy
from losswatch.monitor.settings import Settings
from losswatch.monitor.stopping import Stopper, StopState
from losswatch.monitor.store import ingest, runs
from losswatch.monitor.store.values import PointIn as _PointIn
from tests import curves
from tests.receiver import Receiver

OVERFIT = "31_ner_strong_overfit.json"


def PointIn(key: str, step: int, value: float) -> Any:  # noqa: N802 - reads as the store's point
    return _PointIn(key, step, value)


def subscribe(engine: Engine, receiver: Receiver, events: list[str], kind: str = "webhook", lang: str = "en") -> None:
    targets.replace_targets(
        engine,
        project="default",
        targets=[targets.TargetIn(kind=kind, url=receiver.url(), events=events, lang=lang)],
        limit=20,
    )


def drain(worker: NotifyWorker, engine: Engine, *, passes: int = 200) -> None:
    """Run passes until nothing is pending (backed-off messages included)."""
    for _ in range(passes):
        worker.run_once()
        with engine.connect() as conn:
            if conn.scalar(select(OutboxMessage.id).where(OutboxMessage.status == "pending").limit(1)) is None:
                return
        time.sleep(0.02)
    raise AssertionError("messages still pending")


def outbox_rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(OutboxMessage.__table__).order_by(OutboxMessage.created_at)).all())


def log_curve(engine: Engine, run_id: str, name: str, *, retries: int) -> None:
    """Send the curve as a trainer does (training loss, then the evaluation at the same step), every
    batch `retries` more times with its batch id and once more without (all duplicates)."""
    loss, evals = curves.load(name)
    by_step: dict[int, list[Any]] = {}
    for s, v in loss:
        by_step.setdefault(s, []).append(PointIn("loss", s, v))
    for s, v in evals:
        by_step.setdefault(s, []).append(PointIn("eval_loss", s, v))
    for s in sorted(by_step):
        for _ in range(1 + retries):
            ingest.ingest(engine, run_id=run_id, points=by_step[s], batch_id=f"b{s}")
        ingest.ingest(engine, run_id=run_id, points=by_step[s])


def pure_stop(name: str) -> Decision:
    """The default policy's decision on the curve, from the stopping engine alone (no store, no outbox)."""
    loss, evals = curves.load(name)
    stopper, state = Stopper(Policy()), StopState()
    order = sorted([(s, 0, "loss", v) for s, v in loss] + [(s, 1, "eval_loss", v) for s, v in evals])
    for step, _, key, value in order:
        stopper.feed(state, key=key, step=step, value=value)
    return stopper.current(state)


@pytest.mark.curves
def test_delivery_overfitting_curve_sends_one_stop_whatever_the_retries(
    engine: Engine, worker: NotifyWorker, receiver: Receiver
) -> None:
    subscribe(engine, receiver, ["stop", "finished"])
    receiver.script = [500, 503]  # the receiver fails twice: the same message is tried again
    run, _ = runs.create_run(engine, name="ner", run_id="ner-overfit")
    log_curve(engine, run["id"], OVERFIT, retries=2)
    drain(worker, engine)

    stops = [b for b in receiver.bodies() if b["event"] == "stop"]
    assert len(stops) == 1
    stop = stops[0]
    # Three attempts reached the receiver, all with the one stable id.
    assert [r["body"]["id"] for r in receiver.requests] == [stop["id"]] * 3
    # The message carries the stop the default policy itself makes on the curve, fed point by point.
    expected = pure_stop(OVERFIT)
    assert expected.should_stop and expected.step is not None
    assert stop["step"] == expected.step and stop["decision"]["should_stop"] is True
    assert stop["decision"]["best_value"] == pytest.approx(expected.best_value)
    assert stop["url"] == "https://lw.example.org/runs/ner-overfit"
    assert str(expected.step) in stop["message"] and "overfitting" in stop["message"]
    assert [r.status for r in outbox_rows(engine)] == ["done"]


def backdate(engine: Engine, run_id: str, seconds: float) -> None:
    """Make the run's last sign of life `seconds` old, rather than waiting that long."""
    with writer(engine).begin() as conn:
        conn.execute(update(Run).where(Run.id == run_id).values(last_seen_at=time.time() - seconds))


def test_delivery_silent_run_turns_stale_once_and_a_point_revives_it(
    engine: Engine, worker: NotifyWorker, receiver: Receiver, notify_settings: Settings
) -> None:
    stale_after = notify_settings.stale_after
    subscribe(engine, receiver, ["stale"], lang="zh")
    runs.create_run(engine, name="quiet", run_id="quiet")
    ingest.ingest(engine, run_id="quiet", points=[PointIn("loss", 10, 2.0)])
    drain(worker, engine)
    assert receiver.requests == [] and runs.list_runs(engine, status="stale", stale_after=stale_after) == []
    backdate(engine, "quiet", stale_after + 60)
    assert [r["id"] for r in runs.list_runs(engine, status="stale", stale_after=stale_after)] == ["quiet"]
    for _ in range(3):
        worker._next_scan = 0.0  # every pass scans: still one message for one silence
        drain(worker, engine)
    got = receiver.bodies()
    assert [b["event"] for b in got] == ["stale"]
    assert got[0]["step"] == 10 and "11 分钟" in got[0]["message"] and got[0]["silent_seconds"] >= stale_after + 60

    ingest.ingest(engine, run_id="quiet", points=[PointIn("loss", 20, 1.9)])
    assert [r["id"] for r in runs.list_runs(engine, status="running", stale_after=stale_after)] == ["quiet"]
    backdate(engine, "quiet", stale_after + 1)
    worker._next_scan = 0.0
    drain(worker, engine)
    assert [b["event"] for b in receiver.bodies()] == ["stale", "stale"]  # a new silence is a new message
    assert receiver.bodies()[1]["step"] == 20


def test_delivery_finished_run_is_not_stale(engine: Engine, worker: NotifyWorker, receiver: Receiver) -> None:
    subscribe(engine, receiver, ["stale", "finished"])
    runs.create_run(engine, name="done", run_id="done")
    ingest.ingest(engine, run_id="done", points=[PointIn("eval_loss", 5, 1.25)])
    runs.set_status(engine, run_id="done", status="finished")
    runs.set_status(engine, run_id="done", status="finished")  # a repeated PATCH says nothing new
    drain(worker, engine)
    backdate(engine, "done", worker.settings.stale_after + 1)
    assert runs.list_runs(engine, status="stale", stale_after=worker.settings.stale_after) == []
    worker._next_scan = 0.0
    drain(worker, engine)
    got = receiver.bodies()
    assert [b["event"] for b in got] == ["finished"]
    assert got[0]["step"] == 5 and got[0]["value"] == 1.25


@pytest.mark.parametrize(
    ("script", "attempts"),
    [
        pytest.param([500], 2, id="500-then-ok"),
        pytest.param([("sleep", 2.0, 200)], 2, id="timeout-then-ok"),
        pytest.param([429, 502, 504], 4, id="throttled-and-gateway-errors"),
    ],
)
def test_delivery_failed_attempts_are_retried(
    engine: Engine, worker: NotifyWorker, receiver: Receiver, script: list[Any], attempts: int
) -> None:
    subscribe(engine, receiver, ["stop"])
    receiver.script = list(script)
    runs.create_run(engine, name="r", run_id="r")
    runs.request_stop(engine, run_id="r", reason="enough")
    drain(worker, engine)
    receiver.wait(1)
    assert len(receiver.requests) == attempts
    assert len({r["body"]["id"] for r in receiver.requests}) == 1
    (row,) = outbox_rows(engine)
    assert row.status == "done" and row.attempts == attempts - 1
    # The timed-out attempt was answered 200 late, after the worker gave up on it: that copy is the
    # duplicate a receiver drops by id.
    assert len({b["id"] for b in receiver.bodies()}) == 1


def test_delivery_refused_for_good_is_given_up(engine: Engine, worker: NotifyWorker, receiver: Receiver) -> None:
    subscribe(engine, receiver, ["stop"])
    receiver.default = 404
    runs.create_run(engine, name="r", run_id="r")
    runs.request_stop(engine, run_id="r", reason=None)
    drain(worker, engine)
    (row,) = outbox_rows(engine)
    assert row.status == "failed" and row.attempts == 1 and row.last_error.startswith("HTTP 404")
    assert receiver.url() not in row.last_error


def test_delivery_error_in_a_2xx_body_is_retried(engine: Engine, worker: NotifyWorker, receiver: Receiver) -> None:
    # DingTalk answers 200 with an errcode when a robot is sent to too fast; WeCom does the same.
    subscribe(engine, receiver, ["stop"], kind="dingtalk")
    receiver.script = [("json", 200, {"errcode": 130101, "errmsg": "send too fast"})]
    runs.create_run(engine, name="r", run_id="r")
    runs.request_stop(engine, run_id="r", reason=None)
    drain(worker, engine)
    assert len(receiver.requests) == 2
    assert all(r["body"]["msgtype"] == "markdown" for r in receiver.requests)
    (row,) = outbox_rows(engine)
    assert row.status == "done" and row.attempts == 1 and "130101" in row.last_error


def test_delivery_cooldown_keeps_a_flapping_run_quiet(
    engine: Engine, worker: NotifyWorker, receiver: Receiver, notify_settings: Settings
) -> None:
    notify_settings.notify_cooldown = 3600
    subscribe(engine, receiver, ["stop"])
    runs.create_run(engine, name="r", run_id="r")
    runs.request_stop(engine, run_id="r", reason=None)
    drain(worker, engine)
    runs.create_run(engine, name="r", run_id="r")  # a resume clears the stop...
    ingest.ingest(engine, run_id="r", points=[PointIn("loss", 1, 1.0)])
    runs.request_stop(engine, run_id="r", reason=None)  # ...and a second stop follows at once
    drain(worker, engine)
    assert [r.status for r in outbox_rows(engine)] == ["done", "skipped"]
    assert len(receiver.bodies()) == 1


def test_delivery_two_workers_share_the_outbox_without_doubles(
    engine: Engine, notify_settings: Settings, receiver: Receiver
) -> None:
    subscribe(engine, receiver, ["stop"])
    for i in range(12):
        runs.create_run(engine, name=f"r{i}", run_id=f"r{i}")
        runs.request_stop(engine, run_id=f"r{i}", reason=None)
    a, b = NotifyWorker(engine, notify_settings).start(), NotifyWorker(engine, notify_settings).start()
    try:
        got = receiver.wait(12)
    finally:
        a.stop()
        b.stop()
    assert len(got) == 12
    assert len(receiver.requests) == 12
    assert sorted(x["body"]["run_id"] for x in got) == sorted(f"r{i}" for i in range(12))


@pytest.mark.curves
@pytest.mark.parametrize(
    ("curve", "events", "told"),
    [
        pytest.param("05_qlora_lr5_divergence.json", ["diverging"], ["diverging"], id="divergence"),
        pytest.param(OVERFIT, ["overfitting", "stop"], ["stop", "overfitting"], id="overfitting-and-its-stop"),
    ],
)
def test_delivery_diagnosis_is_told_once_when_entered(
    engine: Engine, worker: NotifyWorker, receiver: Receiver, curve: str, events: list[str], told: list[str]
) -> None:
    subscribe(engine, receiver, events, lang="zh")
    runs.create_run(engine, name="diag", run_id="diag")
    log_curve(engine, "diag", curve, retries=0)
    for _ in range(3):
        worker._next_scan = 0.0
        worker._read.clear()  # read again each pass: the state is the same, so nothing new is told
        drain(worker, engine)
    got = receiver.bodies()
    assert sorted(b["event"] for b in got) == sorted(told)
    (diag,) = [b for b in got if b["event"] != "stop"]
    assert diag["diagnosis"]["state"] == told[-1] and diag["value"] is not None
    assert diag["diagnosis"]["summary"]["zh"] in diag["message"]  # the target's language


def test_delivery_non_finite_value_is_said_nan(engine: Engine, worker: NotifyWorker, receiver: Receiver) -> None:
    # The stop said "eval_loss: ? now" ("value": null), and the non_finite message the last finite value.
    subscribe(engine, receiver, ["stop", "non_finite"])
    runs.create_run(engine, name="nan", run_id="nan")
    for s in range(1, 13):
        points = [PointIn("loss", s, 2.0 - s / 100)]
        if s % 4 == 0:
            points.append(PointIn("eval_loss", s, math.nan if s == 12 else 1.5 - s / 100))
        ingest.ingest(engine, run_id="nan", points=points)
    worker._next_scan = 0.0
    drain(worker, engine)
    got = {b["event"]: b for b in receiver.bodies()}
    assert set(got) == {"stop", "non_finite"}
    for body in got.values():
        assert body["value"] == "NaN" and "eval_loss: NaN now" in body["message"], body
