"""TensorBoard round trip: event files written here (no torch, no tensorflow), read back as points."""

from __future__ import annotations

import pytest

from losswatch.monitor.importers import read_log
from losswatch.monitor.importers.tensorboard import metric_key

pytest.importorskip("tensorboard")

T0 = 1_700_000_000.0  # wall times are explicit so the expected times are exact


def callback_events(steps, *, loss, t0=T0, evals=()):
    """What transformers' TensorBoardCallback writes per logging step (after its rewrite_logs)."""
    events = []
    for i, step in enumerate(steps):
        t = t0 + i
        events += [
            (t, step, "train/loss", loss(step)),
            (t, step, "train/learning_rate", 1e-4),
            (t, step, "train/grad_norm", 2.0),
            (t, step, "train/epoch", step / 100),
        ]
        if step in evals:
            events += [(t + 0.5, step, "eval/loss", loss(step) + 0.25), (t + 0.5, step, "eval/runtime", 3.0)]
    return events


@pytest.mark.parametrize(
    ("tag", "key"),
    [
        ("train/loss", "loss"),
        ("eval/loss", "eval_loss"),
        ("eval/accuracy", "eval_accuracy"),
        ("test/loss", "test_loss"),
        ("train/learning_rate", "learning_rate"),
        ("train/train_loss", "train_loss"),  # the summary's train_loss, rewritten as train/train_loss
        ("loss", "loss"),
        ("custom/metric", "custom/metric"),
        ("evaluation/x", "evaluation/x"),
    ],
)
def test_metric_key(tag, key):
    assert metric_key(tag) == key


def test_round_trip(tmp_path, write_events):
    steps = range(10, 110, 10)
    events = callback_events(steps, loss=lambda s: 3.0 - s / 100, evals=(50, 100))
    events.append((T0 + 50, 100, "my_tag", 7.0))
    file = write_events(tmp_path / "logs", events)

    for source in (tmp_path / "logs", file, tmp_path):  # the folder, the file, a folder above it
        log = read_log(source)
        assert log.source_format == "tensorboard"
        assert log.counts() == {
            "epoch": 10,
            "eval_loss": 2,
            "eval_runtime": 2,
            "grad_norm": 10,
            "learning_rate": 10,
            "loss": 10,
            "my_tag": 1,
        }
        loss = log.series("loss")
        assert [p.step for p in loss] == list(steps)
        # simple_value is a float32: compare at its precision
        assert [p.value for p in loss] == pytest.approx([3.0 - s / 100 for s in steps], rel=1e-6)
        assert [p.time for p in loss] == [T0 + i for i in range(10)]
        assert {p.step: p.value for p in log.series("eval_loss")} == pytest.approx({50: 2.75, 100: 2.25})
        assert log.notes == []
        assert len(log.fingerprint) == 64
    assert read_log(file).name == "logs"


def test_restart_purge_is_applied(tmp_path, write_events):
    """A writer restarted with purge_step (SessionLog.START): TensorBoard drops the orphaned steps."""
    logdir = tmp_path / "logs"
    write_events(logdir, callback_events(range(10, 110, 10), loss=lambda s: 1.0))
    resumed = [(T0 + 100, 60, "START", None)]
    resumed += callback_events(range(60, 130, 10), loss=lambda s: 2.0, t0=T0 + 101)
    write_events(logdir, resumed)

    log = read_log(logdir)
    loss = {p.step: p.value for p in log.series("loss")}
    assert loss == {**dict.fromkeys(range(10, 60, 10), 1.0), **dict.fromkeys(range(60, 130, 10), 2.0)}
    assert "TensorBoard restart purge at step 60: later events of the old session discarded" in log.notes
    assert not any(n.startswith("rewind") for n in log.notes)  # nothing left for the cleaning to rewind


def test_resume_without_purge_is_rewound(tmp_path, write_events):
    """transformers' callback sets no purge_step: the resumed writer's lower steps follow in wall time."""
    logdir = tmp_path / "logs"
    write_events(logdir, callback_events(range(10, 210, 10), loss=lambda s: 1.0, evals=(150,)))
    write_events(logdir, callback_events(range(100, 160, 10), loss=lambda s: 2.0, t0=T0 + 1000))

    log = read_log(logdir)
    loss = {p.step: p.value for p in log.series("loss")}
    assert loss == {**dict.fromkeys(range(10, 100, 10), 1.0), **dict.fromkeys(range(100, 160, 10), 2.0)}
    # the abandoned eval at 150 is not re-logged by the resumed run, so it is gone
    assert log.series("eval_loss") == []
    (rewind,) = [n for n in log.notes if n.startswith("rewind")]
    assert rewind.startswith("rewind at event 83: 200 → 100 (highest step so far 200); 42 abandoned points")
    assert rewind.endswith("20 re-logged by the resumed run, dropped 22")
