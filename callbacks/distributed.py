"""Agreeing across processes: rank 0 hears the service, every rank acts on the same step."""

from __future__ import annotations

from typing import Any


class Broadcaster:
    """Broadcasts rank 0's stop flag; a no-op outside a multi-process group.

    Every rank must call `agree` at the same points (the callback calls it at every step end and
    every evaluation on every rank), whatever rank 0's client is doing, or the collective would hang.
    """

    def __init__(self) -> None:
        self._dist: Any = None
        self._device: Any = None
        try:
            import torch
            import torch.distributed as dist
        except ImportError:  # pragma: no cover - the Trainer needs torch anyway
            return
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            self._dist = dist
            # NCCL only moves CUDA tensors; gloo (CPU) takes CPU ones.
            backend = str(dist.get_backend())
            self._device = torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else "cpu"

    @property
    def active(self) -> bool:
        return self._dist is not None

    @property
    def rank(self) -> int:
        return self._dist.get_rank() if self._dist is not None else 0

    def agree(self, flag: bool) -> bool:
        """Rank 0's `flag`, on every rank."""
        if self._dist is None:
            return flag
        import torch

        t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=self._device)
        self._dist.broadcast(t, src=0)
        return bool(t.item())
