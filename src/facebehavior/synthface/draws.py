"""Random draws for SynthFace: counter-based per-image streams, and scalar helpers.

`Draws` gives every image its own stream of uniforms, computed (not iterated) from
(key, image index, draw number) with the SplitMix64 output function: the d-th number of image
i is ``mix(key + (i · 256 + d + 1) · γ)``, exactly the (i · 256 + d + 1)-th output of a
SplitMix64 generator seeded with `key`. So a chunk of images is sampled with a few vectorised
NumPy operations, and an image's numbers do not depend on which chunk or process samples it.

The scalar helpers are for per-identity sampling, which stays on NumPy `Generator`s.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate

import numpy as np

DRAWS_PER_IMAGE = 256         # numbers an image may use: its counters never reach the next image's
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1, _MIX_2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_TO_UNIT = 2.0 ** -53


def stream_key(*words: int) -> int:
    """A 64-bit stream key from integers (seed, database hash, stream kind), well mixed."""
    return int(np.random.SeedSequence([int(w) for w in words]).generate_state(1, np.uint64)[0])


class Draws:
    """Per-image random numbers for the images `indices` of the stream `key`.

    Each call takes the next draw numbers of every image: ``uniform(3)`` returns (N, 3). The
    order of calls therefore defines which number means what; code must make the same calls
    whatever the data (draw for every image, then select with `np.where`).
    """

    def __init__(self, key: int, indices: np.ndarray):
        self._base = np.uint64(key) + (np.asarray(indices, np.uint64) * np.uint64(DRAWS_PER_IMAGE))[:, None] * _GOLDEN
        self.size = len(self._base)
        self.used = 0

    def uniform(self, count: int | None = None, low: float = 0.0, high: float = 1.0) -> np.ndarray:
        """(N, count) uniforms in [low, high), or (N,) when `count` is None."""
        n = 1 if count is None else count
        if self.used + n > DRAWS_PER_IMAGE:
            raise RuntimeError(f"an image may use at most {DRAWS_PER_IMAGE} random numbers")
        steps = np.arange(self.used + 1, self.used + n + 1, dtype=np.uint64) * _GOLDEN
        self.used += n
        with np.errstate(over="ignore"):
            z = self._base + steps  # wraps modulo 2**64, as SplitMix64 does
            z = (z ^ (z >> np.uint64(30))) * _MIX_1
            z = (z ^ (z >> np.uint64(27))) * _MIX_2
            z ^= z >> np.uint64(31)
        u = (z >> np.uint64(11)).astype(np.float64) * _TO_UNIT
        u = low + (high - low) * u if (low, high) != (0.0, 1.0) else u
        return u[:, 0] if count is None else u

    def normal(self, count: int | None = None, mean=0.0, std=1.0) -> np.ndarray:
        """(N, count) normals (Box–Muller; both outputs of a pair are used)."""
        n = 1 if count is None else count
        pairs = self.uniform(2 * (-(-n // 2)))
        half = pairs.shape[1] // 2
        radius = np.sqrt(-2.0 * np.log1p(-pairs[:, :half]))  # 1 - u lies in (0, 1]
        angle = 2.0 * np.pi * pairs[:, half:]
        z = np.concatenate([radius * np.cos(angle), radius * np.sin(angle)], axis=1)[:, :n]
        z = mean + std * z
        return z[:, 0] if count is None else z

    def integers(self, low: int, high: int, count: int | None = None) -> np.ndarray:
        """(N, count) integers in [low, high), or (N,) when `count` is None."""
        return (low + np.floor(self.uniform(count) * (high - low))).astype(np.int64)

    def choice(self, weights: np.ndarray) -> np.ndarray:
        """(N,) indices drawn with probability proportional to each image's row of `weights`
        ((N, K), or (K,) shared by all images)."""
        weights = np.broadcast_to(np.asarray(weights, float), (self.size, np.shape(weights)[-1]))
        cumulative = np.cumsum(weights, axis=1)
        u = self.uniform() * cumulative[:, -1]
        return np.minimum((cumulative <= u[:, None]).sum(1), weights.shape[1] - 1)

    def beta_2_1_5(self) -> np.ndarray:
        """(N,) Beta(2, 1.5) draws, exactly: X / (X + Y) with X ~ Gamma(2) = −log(u1 · u2) and
        Y ~ Gamma(1.5) = −log(u3) + z²/2 (z standard normal)."""
        u = self.uniform(3)
        x = -np.log1p(-u[:, 0]) - np.log1p(-u[:, 1])
        y = -np.log1p(-u[:, 2]) + 0.5 * self.normal() ** 2
        return x / (x + y)


def clamp(value: float, lo: float, hi: float) -> float:
    return float(min(max(value, lo), hi))


def pick(rng: np.random.Generator, weights) -> int:
    """An index drawn with probability proportional to `weights` (one uniform draw)."""
    cumulative = list(accumulate(float(w) for w in weights))
    return min(bisect_right(cumulative, rng.random() * cumulative[-1]), len(cumulative) - 1)
