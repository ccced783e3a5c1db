"""losswatch's start-up hook, put first on PYTHONPATH by `losswatch run`.

Python imports `sitecustomize` at start-up from the first folder on its path that has one. This one
arranges for every transformers Trainer the program creates to get a LossWatchCallback, and imports
nothing more until transformers' trainer module is imported. Any failure is one line on stderr: the
program runs as it would without losswatch. The environment's own sitecustomize, if any, still runs.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys


def _load_losswatch(package: str) -> None:
    """The losswatch that `losswatch run` belongs to, from its folder, whatever this environment holds,
    without putting anything else on the path (its parent may be another environment's site-packages)."""
    if "losswatch" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(
        "losswatch", os.path.join(package, "__init__.py"), submodule_search_locations=[package]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"no losswatch package in {package}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["losswatch"] = module
    spec.loader.exec_module(module)


def _attach() -> None:
    if os.environ.get("LOSSWATCH_AUTOATTACH") != "1":
        return
    try:
        package = os.environ.get("LOSSWATCH_PACKAGE_DIR")
        if package:
            _load_losswatch(package)
        from losswatch.callbacks.autoattach import install

        install()
    except Exception as exc:  # noqa: BLE001 - never break the user's program
        sys.stderr.write(f"losswatch: not attached ({exc.__class__.__name__}: {exc}); the program runs without it\n")


def _chain() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    mine = sys.modules.pop("sitecustomize", None)
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    try:
        importlib.import_module("sitecustomize")
    except ModuleNotFoundError as exc:
        if exc.name != "sitecustomize":
            sys.stderr.write(f"losswatch: the environment's sitecustomize failed ({exc})\n")
    except Exception as exc:  # noqa: BLE001 - as Python itself would: say it and go on
        sys.stderr.write(f"losswatch: the environment's sitecustomize failed ({exc})\n")
    finally:
        sys.path[:] = saved
        if mine is not None:
            sys.modules["sitecustomize"] = mine


_attach()
_chain()
