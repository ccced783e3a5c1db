"""Stand-in for torchaudio in the LLaMA-Factory test venv only (never installed elsewhere).

LLaMA-Factory 0.9.5 imports torchaudio at the top of data/mm_plugin.py, for audio inputs, and no
torchaudio build on this package index loads with torch 2.13 (CPU): the newest, 2.11.1, fails on its
compiled extension. The tests train on text, so audio is never touched; any use says so plainly.
It has no package metadata, so transformers counts torchaudio as not installed.
"""

from __future__ import annotations

from typing import Any


def _unavailable(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("torchaudio is a stand-in in this environment: audio inputs are not supported here")


load = _unavailable


class functional:  # noqa: N801 - torchaudio's own module name
    resample = staticmethod(_unavailable)
