"""Points out of step order replay the policy from the latest snapshot before them (monitor/store/snapshots.py),
and every write ends in exactly the state a replay of every stored point from the start gives."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from sqlalchemy import Engine, select, text, update

from losswatch.monitor.db import make_engine
from losswatch.monitor.errors import Deferred
from losswatch.monitor.models import StopSnapshot
from losswatch.monitor.store import decisions, ingest, runs, series, snapshots
from losswatch.monitor.store.columns import from_series

EVALS = 60  # checks every 50 steps, training loss every 10


def curve(step: int, bump: float = 0.0) -> float:
    """A falling loss with a little deterministic wobble: the forecast rule keeps judging, never stops."""
    return 2.0 / (1 + step / 400) + 0.01 * np.sin(step / 37.0) + bump


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    e = make_engine(db_url)
    yield e
    e.dispose()


def send(engine: Engine, rid: str, key: str, steps: list[int], bump: float = 0.0) -> None:
    values = [curve(s, bump) if math.isfinite(bump) else bump for s in steps]
    ingest.ingest(engine, run_id=rid, series=[from_series(key, steps, values, None, where="series[0]")])


def started(engine: Engine) -> str:
    run, _ = runs.create_run(engine, name="r", config={"max_steps": 20 * 50 * EVALS})
    rid = run["id"]
    for e in range(1, EVALS + 1):
        send(engine, rid, "loss", list(range(50 * e - 40, 50 * e + 1, 10)))
        send(engine, rid, "eval_loss", [50 * e])
    return rid


def from_scratch(engine: Engine, rid: str) -> dict:
    with engine.connect() as conn:
        run = runs.get_run(conn, run_id=rid)
        return decisions.replayed(conn, rid, decisions.stopper_of(run))[0].to_dict()


def stored(engine: Engine, rid: str) -> tuple[dict, list[int]]:
    with engine.connect() as conn:
        state = decisions.load_state(conn, rid).to_dict()
        steps = conn.execute(text("SELECT step FROM stop_snapshots WHERE run_id = :r ORDER BY step"), {"r": rid})
        return state, [int(s) for (s,) in steps]


def late_eval(engine: Engine, rid: str) -> None:
    send(engine, rid, "eval_loss", [50 * EVALS - 125], bump=0.3)


def late_evals_far_back(engine: Engine, rid: str) -> None:
    send(engine, rid, "eval_loss", [50 * EVALS - 125])
    send(engine, rid, "eval_loss", [425], bump=-0.2)


def late_loss_then_eval(engine: Engine, rid: str) -> None:
    send(engine, rid, "eval_loss", [50 * EVALS - 225])
    # A training-loss point inside the snapshots' history, on the in-order path: they must not outlive it.
    send(engine, rid, "loss", [50 * EVALS - 1005], bump=5.0)
    send(engine, rid, "eval_loss", [50 * EVALS - 25], bump=0.1)


def overwritten_eval(engine: Engine, rid: str) -> None:
    send(engine, rid, "eval_loss", [50 * EVALS - 175])
    send(engine, rid, "eval_loss", [50 * EVALS - 300], bump=0.05)


def written_at_a_snapshot_step(engine: Engine, rid: str) -> None:
    # The snapshot at 2800 holds the training loss of its step: it must go, not only the ones after it.
    send(engine, rid, "loss", [50 * 56], bump=5.0)
    send(engine, rid, "eval_loss", [50 * EVALS - 125])


def eval_overwritten_at_a_snapshot_step(engine: Engine, rid: str) -> None:
    send(engine, rid, "eval_loss", [50 * 48], bump=0.4)
    send(engine, rid, "eval_loss", [50 * EVALS - 125])


def rewound_then_another_history(engine: Engine, rid: str) -> None:
    series.rewind(engine, run_id=rid, step=2300)
    for e in range(47, EVALS + 1):
        send(engine, rid, "loss", list(range(50 * e - 40, 50 * e + 1, 10)), bump=0.05)
        send(engine, rid, "eval_loss", [50 * e], bump=0.05)
    send(engine, rid, "eval_loss", [50 * EVALS - 125])


def nan_loss_at_a_snapshot_step(engine: Engine, rid: str) -> None:
    # The replay stops at 2800 and takes no snapshot there: the old one must not survive to be used.
    send(engine, rid, "loss", [50 * 56], bump=math.nan)
    send(engine, rid, "eval_loss", [50 * EVALS - 125])


def rewound_past_snapshots_then_sparse(engine: Engine, rid: str) -> None:
    # After the rewind the snapshots at 2400 and 2800 describe a history that is gone; the new one passes
    # them with too few checks to replace them before a late point looks for one.
    series.rewind(engine, run_id=rid, step=2300)
    send(engine, rid, "eval_loss", [2900, 3000], bump=0.3)
    send(engine, rid, "eval_loss", [2950], bump=0.3)


def rewound(engine: Engine, rid: str) -> None:
    send(engine, rid, "eval_loss", [50 * EVALS - 125])
    series.rewind(engine, run_id=rid, step=50 * EVALS - 700)
    send(engine, rid, "eval_loss", [50 * EVALS - 650, 50 * EVALS - 600], bump=0.2)


def loss_after_its_eval(engine: Engine, rid: str) -> None:
    # A batch boundary between an evaluation and the training loss of its step (an import sorted by key).
    send(engine, rid, "eval_loss", [50 * EVALS + 50])
    send(engine, rid, "loss", [50 * EVALS + 50], bump=0.02)


def eval_after_a_later_loss(engine: Engine, rid: str) -> None:
    send(engine, rid, "loss", [50 * EVALS + 10, 50 * EVALS + 20])
    send(engine, rid, "eval_loss", [50 * EVALS + 5])


def nan_loss_after_its_eval(engine: Engine, rid: str) -> None:
    # In step order the NaN stops the run before the evaluation of its step is judged.
    send(engine, rid, "eval_loss", [50 * EVALS + 50])
    send(engine, rid, "loss", [50 * EVALS + 50], bump=math.nan)


def eval_before_a_nan_loss_already_in(engine: Engine, rid: str) -> None:
    # In step order the evaluation is judged before the NaN that follows it stops the run.
    send(engine, rid, "loss", [50 * EVALS + 10], bump=math.nan)
    send(engine, rid, "eval_loss", [50 * EVALS + 5])


def loss_out_of_its_order(engine: Engine, rid: str) -> None:
    send(engine, rid, "loss", [50 * EVALS + 30])
    send(engine, rid, "loss", [50 * EVALS + 20], bump=3.0)
    send(engine, rid, "eval_loss", [50 * EVALS + 50])


REWRITES: list[tuple[str, Callable[[Engine, str], None]]] = [
    ("loss-after-its-eval", loss_after_its_eval),
    ("eval-after-a-later-loss", eval_after_a_later_loss),
    ("loss-out-of-its-own-order", loss_out_of_its_order),
    ("nan-loss-after-its-eval", nan_loss_after_its_eval),
    ("eval-before-a-nan-loss-already-in", eval_before_a_nan_loss_already_in),
    ("late-eval", late_eval),
    ("late-evals-far-back", late_evals_far_back),
    ("late-loss-inside-the-snapshots", late_loss_then_eval),
    ("overwritten-eval", overwritten_eval),
    ("rewind-and-resume", rewound),
    ("training-loss-at-a-snapshot-step", written_at_a_snapshot_step),
    ("eval-overwritten-at-a-snapshot-step", eval_overwritten_at_a_snapshot_step),
    ("rewind-then-another-history", rewound_then_another_history),
    ("nan-loss-at-a-snapshot-step", nan_loss_at_a_snapshot_step),
    ("rewind-past-snapshots-then-sparse-points", rewound_past_snapshots_then_sparse),
]


@pytest.mark.parametrize("rewrite", [r for _, r in REWRITES], ids=[n for n, _ in REWRITES])
def test_snapshots_replay_ends_where_a_full_replay_does(engine: Engine, rewrite: Callable[[Engine, str], None]) -> None:
    rid = started(engine)
    rewrite(engine, rid)
    state, steps = stored(engine, rid)
    assert steps, "a replay keeps snapshots"
    assert state == from_scratch(engine, rid)


def test_snapshots_in_order_points_take_the_snapshots_a_replay_would(engine: Engine) -> None:
    rid = started(engine)
    with engine.connect() as conn:
        t = StopSnapshot.__table__
        live = [(int(r.step), r.state) for r in conn.execute(select(t.c.step, t.c.state).order_by(t.c.step))]
        run = runs.get_run(conn, run_id=rid)
        _, taken = decisions.replayed(conn, rid, decisions.stopper_of(run))
    assert [step for step, _ in live] == [50 * k for k in range(snapshots.EVERY, EVALS + 1, snapshots.EVERY)]
    assert live == taken


def test_snapshots_a_late_point_replays_only_what_follows_the_latest_snapshot(engine: Engine) -> None:
    rid = started(engine)
    send(engine, rid, "eval_loss", [50 * EVALS - 125])
    _, steps = stored(engine, rid)
    assert steps == [50 * k for k in range(snapshots.EVERY, EVALS + 1, snapshots.EVERY)]
    with engine.connect() as conn:
        run = runs.get_run(conn, run_id=rid)
        stopper = decisions.stopper_of(run)
        found = snapshots.latest(conn, run_id=rid, before=50 * EVALS - 75, under=snapshots.basis(stopper))
        assert found is not None and found[0] == 50 * 56
        assert found[1].checks == 56 and found[1].last_step == 50 * 56
        after = decisions.stored_events(conn, rid, stopper.monitor, after=found[0])
    # What a later rewrite at step 2925 replays: five checks (the late one among them), not sixty-one.
    assert [e[0] for e in after if e[2] == "eval_loss"] == [2850, 2875, 2900, 2950, 3000]


def test_snapshots_keep_only_the_latest(engine: Engine) -> None:
    run, _ = runs.create_run(engine, name="long", early_stopping={"rule": "best", "patience": 10_000})
    rid = run["id"]
    n = snapshots.EVERY * (snapshots.KEEP + 5)
    send(engine, rid, "eval_loss", list(range(10, 10 * n + 1, 10)))
    send(engine, rid, "eval_loss", [5], bump=1.0)
    checks = [5, *range(10, 10 * n + 1, 10)]  # the late point is the replay's first check
    every = checks[snapshots.EVERY - 1 :: snapshots.EVERY]
    assert len(every) > snapshots.KEEP
    assert stored(engine, rid)[1] == every[-snapshots.KEEP :]
    assert stored(engine, rid)[0] == from_scratch(engine, rid)


def test_snapshots_go_with_their_run(engine: Engine) -> None:
    rid = started(engine)
    late_eval(engine, rid)
    runs.delete_run(engine, run_id=rid)
    assert stored(engine, rid)[1] == []


def tamper(engine: Engine, rid: str, step: int, **values: object) -> None:
    with engine.begin() as conn:
        t = StopSnapshot.__table__
        state = conn.execute(select(t.c.state).where(t.c.run_id == rid, t.c.step == step)).scalar_one()
        if "checks" in values:
            state = {**state, "checks": values.pop("checks")}
        conn.execute(update(t).where(t.c.run_id == rid, t.c.step == step).values(state=state, **values))


def test_snapshots_a_late_point_starts_from_the_snapshot_before_it(engine: Engine) -> None:
    rid = started(engine)
    tamper(engine, rid, 50 * 56, checks=1000)  # a mark only a replay from this snapshot carries on
    send(engine, rid, "eval_loss", [50 * EVALS - 125])
    # 1000, then the checks at 2850, 2875 (the late one), 2900, 2950 and 3000.
    assert stored(engine, rid)[0]["checks"] == 1005


def test_snapshots_of_another_policy_or_release_are_not_used(engine: Engine) -> None:
    rid = started(engine)
    tamper(engine, rid, 50 * 56, checks=1000, basis="computed-by-an-older-release")
    send(engine, rid, "eval_loss", [50 * EVALS - 125])
    state, steps = stored(engine, rid)
    assert state["checks"] == EVALS + 1  # the snapshot at 2800 passed over
    assert state == from_scratch(engine, rid)
    assert 50 * 56 in steps  # and taken again under this basis


def test_snapshots_a_replay_never_runs_where_it_may_not_wait(engine: Engine) -> None:
    rid = started(engine)
    late = [from_series("eval_loss", [50 * EVALS - 125], [1.0], None, where="series[0]")]
    # However cheap the batch itself, a replay's cost is unknown beforehand: the event loop hands it on.
    with pytest.raises(Deferred):
        ingest.ingest(engine, run_id=rid, series=late, defer_ms=1e9)
    with engine.connect() as conn:
        steps = decisions.stored_events(conn, rid, "eval_loss")
    assert 50 * EVALS - 125 not in [s for s, _, key, _ in steps if key == "eval_loss"]
    assert ingest.ingest(engine, run_id=rid, series=late, defer_ms=None).accepted == 1


def test_snapshots_training_loss_out_of_order_before_any_evaluation_is_fed_as_it_comes(engine: Engine) -> None:
    run, _ = runs.create_run(engine, name="r")
    rid = run["id"]
    send(engine, rid, "loss", list(range(10, 2001, 10)))
    # No snapshot to start from yet: no replay (which would go back to the first point on every such batch).
    back = [from_series("loss", [995, 1005], [1.0, 1.0], None, where="series[0]")]
    assert ingest.ingest(engine, run_id=rid, series=back, defer_ms=1e9).accepted == 2


def test_snapshots_a_state_from_another_release_takes_none_until_a_replay(engine: Engine) -> None:
    rid = started(engine)
    with engine.begin() as conn:
        conn.execute(update(StopSnapshot.__table__).values(basis="older-release"))
        live = decisions.load_state(conn, rid)
        live.basis = "older-release"
        decisions.save_state(conn, rid, live)
    for e in range(EVALS + 1, EVALS + 2 * snapshots.EVERY + 1):
        send(engine, rid, "eval_loss", [50 * e])
    with engine.connect() as conn:
        t = StopSnapshot.__table__
        assert set(conn.execute(select(t.c.basis).where(t.c.run_id == rid)).scalars()) == {"older-release"}
    send(engine, rid, "eval_loss", [50 * EVALS + 25])  # late: a replay, from the start
    state, steps = stored(engine, rid)
    with engine.connect() as conn:
        run = runs.get_run(conn, run_id=rid)
        assert state["basis"] == snapshots.basis(decisions.stopper_of(run))
    assert state == from_scratch(engine, rid)
    assert len(steps) == (EVALS + 2 * snapshots.EVERY + 1) // snapshots.EVERY
