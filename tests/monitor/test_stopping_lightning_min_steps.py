"""min_steps under compat "lightning" against a real Lightning fit: a stop that triggers before the Trainer's
min_steps (or min_epochs) stays triggered and ends the fit at the first step past it
(Lightning's test_min_epochs_min_steps_global_step), and no mode ever stops before min_steps."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from losswatch.monitor.policy import Policy
from losswatch.monitor.stopping import Stopper, StopState
from tests.oracles import LIGHTNING_REASONS


@dataclass
class Fit:
    global_step: int  # where the fit ended
    checks: list[tuple[int, float]]  # (global step, monitored value) at each early-stopping check
    losses: list[tuple[int, float]]  # the training loss of every step, as a client logs it
    reason: str


def lightning_fit(
    tmp: Path, values: list[float], *, limit_train_batches: int, min_epochs: int, min_steps: int, **kw: Any
) -> Fit:
    """BoringModel logs values[epoch] as `foo` at the end of each training epoch (no validation), so the
    callback checks it there, as in Lightning's own test."""
    from lightning.pytorch import Trainer
    from lightning.pytorch.callbacks import EarlyStopping
    from lightning.pytorch.demos.boring_classes import BoringModel

    checks: list[tuple[int, float]] = []
    losses: list[tuple[int, float]] = []

    class Model(BoringModel):
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            out = super().training_step(batch, batch_idx)
            assert isinstance(out, dict)
            losses.append((self.global_step + 1, float(out["loss"].detach())))
            return out

        def on_train_epoch_end(self) -> None:
            self.log("foo", values[min(self.current_epoch, len(values) - 1)])

    class Recording(EarlyStopping):
        def _run_early_stopping_check(self, trainer: Any) -> None:
            checks.append((trainer.global_step, float(trainer.callback_metrics["foo"])))
            super()._run_early_stopping_check(trainer)

    callback = Recording("foo", **kw)
    trainer = Trainer(
        default_root_dir=tmp,
        callbacks=[callback],
        limit_val_batches=0,
        limit_train_batches=limit_train_batches,
        min_epochs=min_epochs,
        min_steps=min_steps,
        max_epochs=20,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    trainer.fit(Model())
    return Fit(trainer.global_step, checks, losses, LIGHTNING_REASONS[callback.stopping_reason.name])


def replay(policy: Policy, points: list[tuple[int, int, str, float]]) -> tuple[int | None, str, list[int]]:
    """Points in step order (the training loss before the check of the same step). Returns the stop step, its
    reason, and the step of the first point whose answer said stop (the same step, never before min_steps)."""
    stopper, state = Stopper(policy), StopState()
    said_stop = []
    for step, _, key, value in sorted(points):
        state = StopState.from_dict(state.to_dict())
        if stopper.observe(state, key=key, step=step, value=value).should_stop:
            said_stop.append(step)
    d = stopper.current(state)
    return (d.step if d.should_stop else None), d.reason.value, said_stop[:1]


# Lightning's test_min_epochs_min_steps_global_step: (limit_train_batches, min_epochs, min_steps, stop_step).
# Its criteria are mocked to always say stop; here a stopping_threshold every value meets does the same.
GLOBAL_STEP = [(3, 0, 10, 10), (5, 0, 10, 10), (3, 2, 0, 6), (5, 2, 0, 10), (3, 1, 10, 10), (5, 1, 10, 10)]
GLOBAL_STEP += [(3, 3, 10, 10), (5, 3, 10, 15)]

# Our own, on the same fit: what stands while a stop is held. id, values per epoch, settings.
HELD = [
    ("held-reason-is-the-latest-trigger", [0.5, math.nan, 0.4, 0.3, 0.2], {"stopping_threshold": 0.6}),
    ("held-survives-an-improvement", [1.0, 1.1, 0.5, 0.4, 0.3], {"patience": 1}),
    ("held-patience-then-divergence", [1.0, 1.0, 9.0, 9.0, 9.0], {"patience": 1, "divergence_threshold": 5.0}),
    ("no-trigger-no-stop", [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3], {"patience": 3}),
]


@pytest.mark.parametrize("ltb,min_epochs,min_steps,stop_step", GLOBAL_STEP, ids=lambda v: str(v))
def test_lightning_min_steps_stop_takes_effect_where_the_fit_ends(
    tmp_path: Path, ltb: int, min_epochs: int, min_steps: int, stop_step: int
) -> None:
    fit = lightning_fit(
        tmp_path, [0.0], limit_train_batches=ltb, min_epochs=min_epochs, min_steps=min_steps, stopping_threshold=1.0
    )
    assert fit.global_step == stop_step, "the port no longer matches Lightning's own assertion"
    # losswatch has no epochs: min_epochs is min_epochs x steps per epoch.
    policy = Policy(
        compat="lightning", monitor="foo", stopping_threshold=1.0, min_steps=max(min_steps, min_epochs * ltb)
    )
    checks = [(s, 1, "foo", v) for s, v in fit.checks]
    losses = [(s, 0, "loss", v) for s, v in fit.losses]
    for points in (checks, checks + losses):
        stop, reason, said_stop = replay(policy, points)
        assert (stop, reason) == (fit.global_step, fit.reason)
        assert said_stop == [stop]


@pytest.mark.parametrize("case", HELD, ids=[c[0] for c in HELD])
def test_lightning_min_steps_held_stop_keeps_lightnings_reason(tmp_path: Path, case: tuple) -> None:
    _, values, kw = case
    fit = lightning_fit(tmp_path, values, limit_train_batches=3, min_epochs=0, min_steps=10, **kw)
    policy = Policy(compat="lightning", monitor="foo", min_steps=10, **kw)
    stop, reason, _ = replay(policy, [(s, 1, "foo", v) for s, v in fit.checks])
    ended_early = fit.reason != "none"
    assert (stop, reason) == ((fit.global_step if ended_early else None), fit.reason)


# id, settings, values at steps 10, 20, ...; where it stops with the training loss logged every step, and
# with the checks alone. A triggered stop is held and released by the first point at min_steps; the
# native patience rules do not trigger before min_steps at all, so they stop at the first check past it.
NO_STOP_BEFORE = [
    ("native-threshold", {"stopping_threshold": 0.5}, [1.0, 0.4, 0.3, 0.2], 25, 30),
    ("native-non-finite", {}, [1.0, math.nan, 0.9, 0.8], 25, 30),
    ("native-divergence", {"divergence_threshold": 2.0}, [1.0, 3.0, 3.0, 3.0], 25, 30),
    ("native-best-patience", {"rule": "best", "patience": 1}, [1.0, 1.1, 1.2, 1.3, 1.4], 30, 30),
    ("lightning-patience-0", {"compat": "lightning", "patience": 0}, [1.0, 1.1, 1.2, 1.3], 25, 30),
    ("lightning-threshold", {"compat": "lightning", "stopping_threshold": 0.5}, [0.4, 0.3, 0.2, 0.1], 25, 30),
]


@pytest.mark.parametrize("case", NO_STOP_BEFORE, ids=[c[0] for c in NO_STOP_BEFORE])
def test_no_mode_stops_before_min_steps(case: tuple) -> None:
    _, kw, values, with_losses, checks_only = case
    policy = Policy(min_steps=25, **kw)
    checks = [((i + 1) * 10, 1, "eval_loss", v) for i, v in enumerate(values)]
    losses = [(s, 0, "loss", 1.0) for s in range(1, 41)]
    stop, _, said_stop = replay(policy, checks + losses)
    assert stop == with_losses and said_stop == [with_losses]
    stop, _, said_stop = replay(policy, checks)
    assert stop == checks_only and said_stop == [checks_only]
