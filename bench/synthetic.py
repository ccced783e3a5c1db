"""Runs whose truth is known, for the stop-quality bench: noisy healthy falls and noisy overfits.

The shared curves are real but few, and a run's truth is only what its owner wrote about it. Here the
course under the noise is known: a healthy run falls towards its floor until its planned end, so any stop
of one is raised on noise; an overfit falls until a known step and climbs from there (on the shortest runs
that step can come before the first evaluation, and the run only climbs, as curve 36 of the shared ones
does). Each run evaluates every 100 steps, 6 to 50 times, and its plan ends on its last evaluation (the
config a HF Trainer would send). The readings carry Gaussian noise whose share of the level spans the middle
half of the shared curves' (`NOISE_SHARES`; the bench prints their quartiles).

They test the shipped default against transformers' patience 3. The rule's constants are chosen on the shared
curves; TREND_READINGS (monitor/judgement/rule.py) was also measured on these runs, at the bench's seed and two others.
"""

from __future__ import annotations

import numpy as np

from bench.runs import Curve

EVERY = 100
EVALS = (6, 8, 12, 20, 30, 50)
# Reading noise as a share of the level: quiet (an LLM's eval over thousands of tokens) to loud (a small
# image or audio validation set).
NOISE_SHARES = (0.003, 0.01, 0.03, 0.06)
# How fast the fall settles: its time constant as a share of the planned run (0.2: flat for most of it;
# 3: still falling steeply at the end).
TIME_CONSTANTS = (0.2, 0.5, 1.0, 3.0)
# An overfit turns somewhere between a tenth and 70% of the run and from there climbs by this share of the
# floor over a whole run's length (3% over a tenth of it).
TURN = (0.1, 0.7)
CLIMB = 0.3
FLOOR, DROP = 1.0, 1.5
KINDS = ("healthy", "overfit")


def course(kind: str, steps: np.ndarray, tau: float, turn: float, length: float) -> np.ndarray:
    """The noise-free loss: a fall towards FLOOR with time constant `tau`; an overfit stops falling at `turn`
    and climbs from there, by CLIMB of the floor per run length."""
    loss = FLOOR + DROP * np.exp(-steps / tau)
    if kind == "overfit":
        at_turn = FLOOR + DROP * np.exp(-turn / tau)
        loss = np.where(steps <= turn, loss, at_turn + CLIMB * FLOOR * (steps - turn) / length)
    return loss


def runs(kind: str, count: int, seed: int = 0) -> list[Curve]:
    """`count` runs of `kind`, named "<kind> <i>", the same ones for the same seed."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    out = []
    for i in range(count):
        n = int(rng.choice(EVALS))
        share = float(rng.choice(NOISE_SHARES))
        length = float(n * EVERY)
        tau = float(rng.choice(TIME_CONSTANTS)) * length
        turn = float(rng.uniform(*TURN)) * length
        steps = np.arange(1, n + 1) * EVERY
        values = course(kind, steps, tau, turn, length) * (1.0 + share * rng.standard_normal(n))
        evals = [(int(s), float(v)) for s, v in zip(steps, values, strict=True)]
        config = {"max_steps": int(steps[-1]), "eval_steps": EVERY}
        out.append(Curve(f"{kind} {i}", evals, int(steps[-1]), config))
    return out
