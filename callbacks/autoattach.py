"""Attach a LossWatchCallback to every transformers Trainer, without a line in the user's code.

`install()` (called by the start-up hook of `losswatch run`) adds an import hook that waits for
`transformers.trainer`; once it is loaded, `Trainer.__init__` is wrapped so that each Trainer, and
each subclass's (Seq2SeqTrainer, TRL's, LLaMA-Factory's), ends its construction with the callback
added, unless it already has one. Settings come from the environment `losswatch run` prepares:
LOSSWATCH_URL, LOSSWATCH_PROJECT, LOSSWATCH_RUN_NAME, LOSSWATCH_EARLY_STOPPING, LOSSWATCH_TOKEN,
LOSSWATCH_KEEP_BEST. Until transformers is imported this module costs nothing: stdlib only.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import os
import sys
from types import ModuleType
from typing import Any

TARGET = "transformers.trainer"
_said: set[str] = set()


def _warn(what: str, message: str) -> None:
    if what not in _said:
        _said.add(what)
        sys.stderr.write(f"losswatch: {message}\n")


def install() -> None:
    module = sys.modules.get(TARGET)
    if module is not None:
        patch(module)
        return
    if not any(isinstance(f, _TrainerFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _TrainerFinder())


class _TrainerFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: it lets the other finders find transformers.trainer, then wraps its loader."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != TARGET:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _PatchingLoader(spec.loader)
                return spec
        return None


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        try:
            patch(module)
        except Exception as exc:  # noqa: BLE001 - never break the user's program
            _warn("patch", f"could not attach to transformers' Trainer ({exc}); training runs without losswatch")

    def __getattr__(self, name: str) -> Any:  # get_source, is_package, ...: the real loader's
        return getattr(self._loader, name)


def patch(module: ModuleType) -> None:
    trainer = module.Trainer
    original = trainer.__init__
    if getattr(original, "_losswatch", False):
        return

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        try:
            attach(self)
        except Exception as exc:  # noqa: BLE001 - never break the user's program
            _warn("attach", f"could not attach to this Trainer ({exc}); it trains without losswatch")

    __init__._losswatch = True  # type: ignore[attr-defined]
    trainer.__init__ = __init__


def attach(trainer: Any) -> None:
    from losswatch.callbacks.hf import LossWatchCallback

    if any(isinstance(cb, LossWatchCallback) for cb in trainer.callback_handler.callbacks):
        return
    keep_best = os.environ.get("LOSSWATCH_KEEP_BEST", "1").strip().lower() not in ("0", "false", "no")
    trainer.add_callback(LossWatchCallback(run_name=os.environ.get("LOSSWATCH_RUN_NAME") or None, keep_best=keep_best))
