"""Diagnostics of training curves: trend, volatility, spikes, overfitting, state, advice, summary.

Pure functions over numpy arrays; `diagnose` gathers them into one JSON-ready dict.
"""

from __future__ import annotations

from .report import diagnose

__all__ = ["diagnose"]
