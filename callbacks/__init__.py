"""What runs inside the training process. Nothing here may slow or break training."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from losswatch.callbacks.client import LossWatchClient
    from losswatch.callbacks.hf import LossWatchCallback

__all__ = ["LossWatchCallback", "LossWatchClient"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `callbacks.client` works in a loop without transformers installed.
    if name == "LossWatchCallback":
        from losswatch.callbacks.hf import LossWatchCallback

        return LossWatchCallback
    if name == "LossWatchClient":
        from losswatch.callbacks.client import LossWatchClient

        return LossWatchClient
    raise AttributeError(name)
