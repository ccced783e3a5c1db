"""losswatch: a training monitor and early-stopping service for HuggingFace Trainer runs.

The training side is what most users import::

    from losswatch import LossWatchCallback, LossWatchClient

Both load lazily, so `import losswatch` costs nothing and pulls in no server library.
In the repository the subpackages are the top-level folders `monitor/`, `api/` and `callbacks/`
(this folder links to them); installed, they are `losswatch.monitor`, `losswatch.api` and
`losswatch.callbacks`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from losswatch.callbacks.client import LossWatchClient
    from losswatch.callbacks.hf import LossWatchCallback

__all__ = ["LossWatchCallback", "LossWatchClient"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        import losswatch.callbacks

        return getattr(losswatch.callbacks, name)
    raise AttributeError(f"module 'losswatch' has no attribute {name!r}")
