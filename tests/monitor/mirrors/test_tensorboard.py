from __future__ import annotations

import pytest
from sqlalchemy import Engine

from losswatch.monitor.mirrors import cursors
from losswatch.monitor.mirrors.tags import tag
from losswatch.monitor.mirrors.worker import MirrorWorker
from losswatch.monitor.settings import Settings
from losswatch.monitor.store import runs
from losswatch.monitor.store.series import rewind

from .conftest import curve, expected, make_run, put
from .tb_reader import run_folders, scalars, texts


def assert_mirrored(folder, rows) -> None:
    """Every point once, under its transformers tag, with its value (TensorBoard stores float32)."""
    got = scalars(folder)
    want = expected(rows)
    assert set(got) == {tag(k) for k in want}
    for key, points in want.items():
        seen = got[tag(key)]
        assert [s for s, _ in seen] == sorted(points), key
        assert [v for _, v in seen] == pytest.approx([points[s] for s in sorted(points)], rel=1e-6), key


def test_tensorboard_mirror_holds_every_point_under_hf_tags(
    engine: Engine, worker: MirrorWorker, mirror_settings: Settings
) -> None:
    rid = make_run(engine, mirrors=["tensorboard"], name="qwen lora/7b", project="my sft")
    rows = curve(400)
    put(engine, rid, rows)
    assert worker.run_once() == 1
    folders = run_folders(mirror_settings.tensorboard_root)
    assert folders == [mirror_settings.tensorboard_root / "my_sft" / f"qwen_lora_7b-{rid}"]
    assert_mirrored(folders[0], rows)


def test_tensorboard_mirror_appends_across_passes_without_duplicates(
    engine: Engine, worker: MirrorWorker, mirror_settings: Settings
) -> None:
    rid = make_run(engine, mirrors=["tensorboard"])
    rows = curve(300)
    train = [r for r in rows if r[0] != "eval_loss"]
    evals = [r for r in rows if r[0] == "eval_loss"]
    # The evaluations arrive late, after training points of later steps were already mirrored.
    for chunk in (train[:200], train[200:450] + evals[:5], train[450:], evals[5:]):
        put(engine, rid, chunk)
        worker.run_once()
    assert worker.run_once() == 0  # nothing left: the cursor is at the run's version
    assert_mirrored(run_folders(mirror_settings.tensorboard_root)[0], rows)


REWRITES = [
    pytest.param(100, 150, id="rewind-then-refill-short"),
    pytest.param(100, 260, id="rewind-then-refill-past-old-end"),
    pytest.param(0, 40, id="rewind-to-start"),
    pytest.param(100, None, id="rewind-only"),
]


@pytest.mark.parametrize(("to", "refill"), REWRITES)
def test_tensorboard_mirror_reflects_a_rewind(
    engine: Engine, worker: MirrorWorker, mirror_settings: Settings, to: int, refill: int | None
) -> None:
    rid = make_run(engine, mirrors=["tensorboard"])
    first = curve(200)
    put(engine, rid, first)
    worker.run_once()
    rewind(engine, run_id=rid, step=to)
    kept = [r for r in first if r[1] <= to]
    again = [(k, s, v + 0.25) for k, s, v in curve(refill) if s > to] if refill else []
    if again:
        put(engine, rid, again)
    worker.run_once()
    assert_mirrored(run_folders(mirror_settings.tensorboard_root)[0], kept + again)


def test_tensorboard_mirror_reflects_an_overwrite(
    engine: Engine, worker: MirrorWorker, mirror_settings: Settings
) -> None:
    rid = make_run(engine, mirrors=["tensorboard"])
    rows = curve(100)
    put(engine, rid, rows)
    worker.run_once()
    put(engine, rid, [("loss", 37, 9.5)])
    worker.run_once()
    final = [r for r in rows if r[:2] != ("loss", 37)] + [("loss", 37, 9.5)]
    assert_mirrored(run_folders(mirror_settings.tensorboard_root)[0], final)


def test_tensorboard_mirror_new_process_drops_what_a_crash_left_past_the_cursor(
    engine: Engine, worker: MirrorWorker, mirror_settings: Settings
) -> None:
    rid = make_run(engine, mirrors=["tensorboard"])
    rows = curve(300)
    put(engine, rid, rows[:300])
    worker.run_once()
    put(engine, rid, rows[300:])
    # A pass that wrote its events but died before moving the cursor.
    with engine.connect() as conn:
        info = next(i for i in cursors.runs_to_mirror(conn, default=[]) if i.id == rid)
        state = cursors.cursors(conn, run_id=rid)[(rid, "tensorboard")].state
    worker.target("tensorboard").sync(engine, info, state)
    worker.target("tensorboard").close_all()
    cursors.release(engine, owner=worker.owner)

    successor = MirrorWorker(engine, mirror_settings)
    assert successor.run_once() == 1
    successor.stop()
    assert_mirrored(run_folders(mirror_settings.tensorboard_root)[0], rows)


def test_tensorboard_mirror_writes_decisions_and_diagnosis_as_text(
    engine: Engine, worker: MirrorWorker, mirror_settings: Settings
) -> None:
    run, _ = runs.create_run(engine, name="stops", mirrors=["tensorboard"])
    put(engine, run["id"], curve(60))
    worker.run_once()
    runs.request_stop(engine, run_id=run["id"], reason="loss looks flat to me")
    runs.set_status(engine, run_id=run["id"], status="stopped")
    worker.run_once()
    got = texts(run_folders(mirror_settings.tensorboard_root)[0])
    decisions = got["losswatch/decision"]
    assert any("**stop**" in body and "manual" in body and "loss looks flat" in body for _, body in decisions)
    assert len({body for _, body in decisions}) == len(decisions)  # each change of decision written once
    [(step, summary)] = got["losswatch/diagnosis"]
    assert step == 60 and "eval_loss" in summary
