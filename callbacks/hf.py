"""The HuggingFace Trainer callback."""

from __future__ import annotations

import json
import logging
from typing import Any

from transformers import TrainerCallback

from callbacks.client import LossWatchClient

log = logging.getLogger("losswatch")


def _jsonable(config: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(config, default=str))


class LossWatchCallback(TrainerCallback):
    """Streams every logged number to losswatch and stops training when the service says so.

    `LossWatchCallback(url=, project=, run_name=, early_stopping=, token=)`; unset arguments come from
    `LOSSWATCH_URL`, `LOSSWATCH_PROJECT`, `LOSSWATCH_TOKEN`. After train begin, `run_id` names the run.
    """

    def __init__(self, url: str | None = None, project: str | None = None, run_name: str | None = None,
                 early_stopping: dict[str, Any] | None = None, token: str | None = None, *,
                 decision_timeout: float = 2.0, end_timeout: float = 10.0) -> None:
        self.url, self.project, self.run_name = url, project, run_name
        self.early_stopping, self.token = early_stopping, token
        self.decision_timeout, self.end_timeout = decision_timeout, end_timeout
        self.client: LossWatchClient | None = None
        self.run_id: str | None = None
        self.last_decision: dict[str, Any] | None = None

    def on_train_begin(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        if not state.is_world_process_zero:
            return
        try:
            config = _jsonable(args.to_dict())
            self.client = LossWatchClient(self.url, project=self.project,
                                          run_name=self.run_name or args.run_name or "run",
                                          early_stopping=self.early_stopping, token=self.token, config=config)
            self.run_id = self.client.run_id
        except Exception as exc:  # noqa: BLE001 - fail open
            log.warning("losswatch: disabled for this run (%s)", exc)

    def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
        if self.client is not None and logs:
            self.client.log(state.global_step, logs)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):  # type: ignore[no-untyped-def]
        if self.client is None:
            return
        # The Trainer has already passed `metrics` through on_log, so they are on their way.
        decision = self.client.decision(self.decision_timeout)
        if decision is not None:
            self.last_decision = decision
            if decision.get("should_stop"):
                control.should_training_stop = True
                log.warning("losswatch: stopping at step %s: %s", state.global_step, decision.get("message"))

    def on_train_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        if self.client is None:
            return
        stopped = bool(self.last_decision and self.last_decision.get("should_stop"))
        self.client.flush(self.end_timeout)
        self.client.set_status("stopped" if stopped else "finished")
        self.client.close(timeout=1.0)
