"""The HuggingFace Trainer callback."""

from __future__ import annotations

import atexit
import json
import logging
import math
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from losswatch.callbacks import resume
from losswatch.callbacks.client import LossWatchClient
from losswatch.callbacks.distributed import Broadcaster
from losswatch.monitor.policy_json import policy_from_env
from losswatch.monitor.spool import SPOOL_DIRNAME
from losswatch.monitor.vocabulary import llamaboard_enabled

log = logging.getLogger("losswatch")


def _jsonable(config: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(config, default=str))


class LossWatchCallback(TrainerCallback):
    """Streams every logged number to losswatch and stops training when the service (or a person) says so.

    `LossWatchCallback(url=, project=, run_name=, early_stopping=, token=)`; unset arguments come from
    `LOSSWATCH_URL`, `LOSSWATCH_PROJECT`, `LOSSWATCH_TOKEN`, `LOSSWATCH_EARLY_STOPPING` (JSON). After
    train begin, `run_id` names the run. The spool and the run id live in `<output_dir>/.losswatch/`;
    each checkpoint records the run id, so resuming from it continues the same run. Under torchrun only
    world rank 0 talks to the service.

    The run ends `finished`, `stopped` (losswatch, a person or another callback ended it before its last
    step) or `failed` (the process left without reaching the end of training).

    Best weights (`keep_best=True`): at each new best evaluation the Trainer is asked to save a
    checkpoint, which is kept out of `save_total_limit` rotation (as `state.best_model_checkpoint`) and
    loaded at the end as `load_best_model_at_end` does; the run reports it as its `best_checkpoint`.
    A Trainer configured with `load_best_model_at_end` keeps doing that itself.
    """

    def __init__(
        self,
        url: str | None = None,
        project: str | None = None,
        run_name: str | None = None,
        early_stopping: dict[str, Any] | None = None,
        token: str | None = None,
        *,
        decision_timeout: float = 2.0,
        end_timeout: float = 10.0,
        spool_dir: str | None = None,
        poll_interval: float = 1.0,
        keep_best: bool = True,
    ) -> None:
        self.url, self.project, self.run_name = url, project, run_name
        self.early_stopping, self.token = early_stopping, token
        self.decision_timeout, self.end_timeout = decision_timeout, end_timeout
        self.spool_dir, self.poll_interval = spool_dir, poll_interval
        self.client: LossWatchClient | None = None
        self.run_id: str | None = None
        self.last_decision: dict[str, Any] | None = None
        self.stopped_at: int | None = None
        self.keep_best = keep_best
        self.best: tuple[int, float] | None = None  # (step, value) of the best evaluation seen
        self._restore_load_best: bool | None = None
        self._term_previous: Any = None  # the SIGTERM handler before ours, while ours is installed
        self._reported_best: tuple[int, str] | None = None
        self._exit_hook = False
        self._bcast = Broadcaster()

    # -- begin: the run, resume, advice ----------------------------------------------------------
    def on_train_begin(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        # A train() that never reached its end (interrupted in a notebook, whose kernel lives on): its run is
        # closed as the exit hook would close it, not left "running" with its sender beating for ever.
        self._left_without_end()
        self._bcast = Broadcaster()  # the process group exists by now
        self.stopped_at = None
        self.best = self._resumed_best(state)
        self._keep_best_begin(args)
        if not state.is_world_process_zero:
            return
        try:
            spool_dir = Path(self.spool_dir or os.path.join(args.output_dir, SPOOL_DIRNAME))
            run_id = None
            if state.global_step > 0:
                run_id = resume.resumed_run_id(
                    args.output_dir, state.global_step, spool_dir, getattr(args, "resume_from_checkpoint", None)
                )
            self.client = LossWatchClient(
                self.url,
                project=self.project,
                # The output folder names the run when nothing else does (transformers 5 leaves run_name
                # unset, LLaMA-Factory's web UI too), as `losswatch watch` names a followed folder's run.
                run_name=self.run_name
                or os.environ.get("LOSSWATCH_RUN_NAME")
                or args.run_name
                or Path(args.output_dir).resolve().name
                or "run",
                run_id=run_id,
                early_stopping=self.early_stopping,
                token=self.token,
                config=self._config(args),
                spool_dir=spool_dir,
                poll_interval=self.poll_interval,
            )
            self.run_id = self.client.run_id
            if not self._exit_hook:
                self._exit_hook = True
                atexit.register(self._left_without_end)
            self._hook_sigterm()
            resume.write_run_id(spool_dir, resume.RUN_FILE, self.run_id)
            if state.global_step > 0:
                # The steps past the checkpoint are abandoned; the new ones replace them.
                self.client.rewind(state.global_step)
            page = f"{self.client.url}/runs/{self.run_id}"
            at = f" from step {state.global_step}" if state.global_step > 0 else ""
            self._say(args, f"losswatch: run {self.client.run_name!r}{at}, live at {page}")
        except Exception as exc:  # noqa: BLE001 - fail open
            log.warning("losswatch: disabled for this run (%s)", exc)
            self.client = None

    # -- every step: enqueue, and obey a stop ------------------------------------------------------
    def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
        if self.client is not None and logs:
            self.client.log(state.global_step, logs)

    def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        # No waiting: the sender keeps `latest_decision` fresh (ingest answers, a light poll).
        decision = self.client.latest_decision if self.client is not None else None
        self._act(decision, args, state, control)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):  # type: ignore[no-untyped-def]
        decision = None
        if self.client is not None:
            # The Trainer has already passed `metrics` through on_log, so they are on their way.
            decision = self.client.decision(self.decision_timeout)
        self._act(decision, args, state, control)
        try:
            self._keep_best_evaluate(args, state, control, metrics or {}, decision)
        except Exception as exc:  # noqa: BLE001 - fail open
            log.warning("losswatch: could not keep the best checkpoint (%s)", exc)

    def _act(self, decision: dict[str, Any] | None, args, state, control) -> None:  # type: ignore[no-untyped-def]
        if not isinstance(decision, dict):  # the sender passes on only objects; this runs in the training loop
            decision = None
        if decision is not None:
            self.last_decision = decision
        stop = self._bcast.agree(bool(decision and decision.get("should_stop")))
        if stop and not control.should_training_stop:
            control.should_training_stop = True
            control.should_save = True  # as a normal stop: the state at the stop is kept
            self.stopped_at = state.global_step
            if decision is not None:
                why = f"({decision.get('reason')}): {decision.get('message')}"
                self._say(args, f"losswatch: stopping at step {state.global_step} {why}")

    @staticmethod
    def _say(args: Any, message: str) -> None:
        """Said to the person: on the console, and in LLaMA-Factory's web UI, which shows the output folder's
        running_log.txt (its own log) rather than the training's console."""
        log.warning(message)
        if not llamaboard_enabled(os.environ.get("LLAMABOARD_ENABLED")):
            return
        try:
            with open(os.path.join(args.output_dir, "running_log.txt"), "a", encoding="utf-8") as f:
                f.write(message + "\n")
        except OSError:
            pass  # the console has it

    # -- checkpoints and the end -----------------------------------------------------------------
    def on_save(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        if self.client is None:
            return
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if folder.is_dir():
            resume.write_run_id(folder, resume.CHECKPOINT_FILE, self.client.run_id, step=state.global_step)
        self._report_best(state)

    # -- best weights ----------------------------------------------------------------------------
    def _keep_best_begin(self, args: Any) -> None:
        if self._restore_load_best is not None:
            # A train() that never reached its end left the flag set: put back, or it would read as the user's.
            args.load_best_model_at_end = self._restore_load_best
        self._restore_load_best = None
        if not self.keep_best or args.load_best_model_at_end:
            return  # opted out, or the Trainer does it itself
        # The Trainer's own end-of-training load, with every case it knows (PEFT adapters, sharded
        # weights, DeepSpeed), reads this flag only after the loop; it is put back at train end.
        self._restore_load_best = args.load_best_model_at_end
        args.load_best_model_at_end = True

    def _config(self, args: Any) -> dict[str, Any]:
        """The person's arguments as they set them (keep-best turned load_best_model_at_end on for the Trainer's
        own end-of-training load), and whether keep-best saves each new best: the advice on checkpoints that
        miss evaluations does not apply then."""
        config = _jsonable(args.to_dict())
        if self._restore_load_best is not None:
            config["load_best_model_at_end"] = self._restore_load_best
        # Always sent, so a resume without keep-best replaces an earlier launch's mark (configs are merged).
        config["losswatch_keep_best"] = self._restore_load_best is not None
        return config

    def _monitor(self) -> tuple[str, bool]:
        # Resolved alike on every rank: rank 0's client took the same argument, or the same environment variable.
        if self.client is not None:
            policy = self.client.early_stopping
        elif self.early_stopping is not None:
            policy = self.early_stopping
        else:
            try:
                policy = policy_from_env()
            except ValueError:
                policy = None  # rank 0's client said so and went on with the service's default
        policy = policy or {}
        key = str(policy.get("monitor") or "eval_loss")
        return key, policy.get("mode") == "max"

    def _resumed_best(self, state: Any) -> tuple[int, float] | None:
        """On a resume, the best evaluation of the monitored key before the checkpoint, from the log history the
        checkpoint restored: without it, the first evaluation after the resume that the service did not judge
        in time (it is down, or slow) would read as a new best and replace the real one. (Not the state's
        best_global_step: the Trainer sets that by metric_for_best_model, which may be another metric.)"""
        if not state.global_step:
            return None
        key, maximize = self._monitor()
        best: tuple[int, float] | None = None
        for entry in getattr(state, "log_history", None) or []:
            value, step = _monitored(entry, key), entry.get("step")
            if value is not None and isinstance(step, int) and step <= state.global_step:
                if _beats(value, best, maximize):
                    best = (step, value)
        return best

    def _judge_best(self, step: int, metrics: dict, decision: dict | None) -> float | None:
        """The monitored value when this evaluation is a new best, else None."""
        key, maximize = self._monitor()
        value = _monitored(metrics, key)
        if value is None:
            return None
        if decision is not None and decision.get("step") == step and decision.get("best_step") is not None:
            better = decision["best_step"] == step  # the service judged this very evaluation
        else:
            better = _beats(value, self.best, maximize)
        return value if better else None

    def _keep_best_evaluate(self, args: Any, state: Any, control: Any, metrics: dict, decision: dict | None) -> None:
        if self._restore_load_best is None:  # alike on every rank: set from the arguments at train begin
            return
        step = state.global_step
        try:
            value = self._judge_best(step, metrics, decision)
        except Exception as exc:  # noqa: BLE001 - this rank must still take part in the broadcast below
            log.warning("losswatch: could not judge the best checkpoint (%s)", exc)
            value = None
        # Rank 0 judges with the service's decision, the others cannot: each rank saving on its own judgement
        # would enter the Trainer's save (a collective) at different evaluations and hang. So every rank takes
        # part in this broadcast at every evaluation, whatever it read, and follows rank 0.
        if not self._bcast.agree(value is not None):
            return
        if value is not None:
            self.best = (step, value)
        control.should_save = True
        # What the Trainer's rotation protects, and what its end-of-training load reads.
        state.best_model_checkpoint = os.path.join(args.output_dir, f"checkpoint-{step}")
        state.best_global_step = step
        if args.metric_for_best_model is None and value is not None:
            state.best_metric = value

    def _report_best(self, state: Any) -> None:
        path = state.best_model_checkpoint
        if self.client is None or not path or not Path(path).is_dir():
            return
        step = self.best[0] if self.best else _checkpoint_step(path)
        if step is not None and self._reported_best != (step, path):
            self._reported_best = (step, path)
            self.client.report_best_checkpoint(step, str(Path(path).resolve()))

    def on_train_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        self._unhook_sigterm()
        if self._restore_load_best is not None:
            args.load_best_model_at_end = self._restore_load_best
            self._restore_load_best = None
        if self.client is None:
            return
        self._report_best(state)
        client, self.client = self.client, None
        try:
            # Ended before its last step: losswatch, a person (LLaMA-Factory's Abort) or another callback.
            stopped = self.stopped_at is not None or 0 < state.global_step < state.max_steps
            # The status goes behind the last points, so one wait delivers both.
            client.set_status("stopped" if stopped else "finished")
            client.flush(self.end_timeout, even_if_down=True)
            decision = client.latest_decision or self.last_decision
            if stopped and decision:
                log.info("losswatch: run %s stopped (%s)", client.run_id, decision.get("reason"))
            client.close(timeout=min(self.end_timeout, 2.0))
        except Exception as exc:  # noqa: BLE001 - the end of training must not fail on us
            log.warning("losswatch: could not finish the run cleanly (%s)", exc)

    # -- SIGTERM: docker stop, a scheduler's preemption, kill ------------------------------------------
    def _hook_sigterm(self) -> None:
        """Python dies of SIGTERM without running atexit: the run would read "running" until it went stale, and
        what the sender held would be lost. So, while training, a SIGTERM first closes the run ("failed", its
        points sent or spooled, within 2 s), then does what it did before: the previous handler, or the
        default (the process ends by the signal, as it would have)."""
        if self._term_previous is not None or threading.current_thread() is not threading.main_thread():
            return  # signal handlers belong to the main thread
        try:
            previous = signal.getsignal(signal.SIGTERM)
            if previous is None or previous == signal.SIG_IGN:
                return  # a handler installed outside Python, or SIGTERM ignored: left alone
            signal.signal(signal.SIGTERM, self._on_sigterm)
            self._term_previous = previous
        except (ValueError, OSError):
            self._term_previous = None

    def _unhook_sigterm(self) -> None:
        previous, self._term_previous = self._term_previous, None
        if previous is None or threading.current_thread() is not threading.main_thread():
            return
        try:
            if signal.getsignal(signal.SIGTERM) == self._on_sigterm:
                signal.signal(signal.SIGTERM, previous)
        except (ValueError, OSError):
            pass

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        previous = self._term_previous
        self._unhook_sigterm()
        if callable(previous):
            # Someone else's handler decides (a framework that saves and goes on, or exits: then the exit hook
            # closes the run).
            previous(signum, frame)
            return
        # The default: the process is about to end without its exit hooks. The run is closed on a thread of its
        # own, for at most 3 s: the signal may have landed while this thread held a lock closing needs.
        closer = threading.Thread(target=self._left_without_end, name="losswatch-sigterm", daemon=True)
        closer.start()
        closer.join(3.0)
        os.kill(os.getpid(), signal.SIGTERM)  # the default, restored: the process ends by the signal

    def _left_without_end(self) -> None:
        """At exit or the next train(): a run whose training never reached its end failed (or was interrupted by a
        person: IPython, like the interpreter, keeps the last uncaught exception's type in sys.last_type)."""
        if self.client is None:
            return
        client, self.client = self.client, None
        interrupted = getattr(sys, "last_type", None) is KeyboardInterrupt
        try:
            client.close(timeout=2.0, status="stopped" if interrupted else "failed")
        except Exception:  # noqa: BLE001 - the interpreter is going away
            pass


def _monitored(metrics: dict, key: str) -> float | None:
    """The monitored key's finite value in a log or an evaluation's metrics (`eval_` added when missing)."""
    value = metrics.get(key)
    if value is None and not key.startswith("eval_"):
        value = metrics.get(f"eval_{key}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _beats(value: float, best: tuple[int, float] | None, maximize: bool) -> bool:
    return best is None or (value > best[1] if maximize else value < best[1])


def _checkpoint_step(path: str) -> int | None:
    try:
        return int(Path(path).name.rsplit("-", 1)[-1])
    except ValueError:
        return None
