"""Small random-draw helpers that avoid NumPy's per-call overhead on scalars."""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate

import numpy as np


def clamp(value: float, lo: float, hi: float) -> float:
    return float(min(max(value, lo), hi))


def pick(rng: np.random.Generator, weights) -> int:
    """An index drawn with probability proportional to `weights` (one uniform draw)."""
    cumulative = list(accumulate(float(w) for w in weights))
    return min(bisect_right(cumulative, rng.random() * cumulative[-1]), len(cumulative) - 1)
