"""TensorBoard's own reader over a mirrored run folder, keeping every event (size_guidance 0)."""

from __future__ import annotations

from pathlib import Path

from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.util import tensor_util

KEEP_ALL = {ea.COMPRESSED_HISTOGRAMS: 0, ea.IMAGES: 0, ea.AUDIO: 0, ea.SCALARS: 0, ea.HISTOGRAMS: 0, ea.TENSORS: 0}


def run_folders(root: Path) -> list[Path]:
    return sorted({p.parent for p in root.rglob("events.out.tfevents.*")})


def scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    acc = ea.EventAccumulator(str(folder), size_guidance=KEEP_ALL)
    acc.Reload()
    return {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}


def texts(folder: Path) -> dict[str, list[tuple[int, str]]]:
    acc = ea.EventAccumulator(str(folder), size_guidance=KEEP_ALL)
    acc.Reload()
    out = {}
    for t in acc.Tags()["tensors"]:
        out[t] = [(e.step, tensor_util.make_ndarray(e.tensor_proto).reshape(-1)[0].decode()) for e in acc.Tensors(t)]
    return out
