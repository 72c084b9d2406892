"""The affect process: expression → action units and valence/arousal.

- A basic expression switches each AU of its row in the data-driven table
  (`affwild2_empirical`, Table 1 of the paper) on with the listed probability; a compound class
  (Du et al. 2014) switches its prototypical AUs on with probability 0.9 and its observational
  AUs with their weight. Every AU is also switched on spuriously with a small probability.
- One expression *strength* per image scales all its AUs' intensities (with per-AU jitter)
  and how far valence/arousal move from the origin towards the expression's centroid.
- Neutral has strength 0: no AUs beyond the spurious ones, VA near the origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from facebehavior.synthface.draws import Draws
from facebehavior.labels import AUS, EXPRESSIONS
from facebehavior.relatedness import load_category_rows

AU_TABLE = "affwild2_empirical"
COMPOUND_TABLE = "du2014"
SPURIOUS_RATE = 0.02          # chance that any AU fires regardless of the expression
PROTOTYPICAL_PROB = 0.9       # chance that a compound class's prototypical AU fires
INTENSITY_JITTER = 0.25       # log-normal spread of an AU's intensity around the strength
MIN_INTENSITY = 0.15
VA_SPREAD = 0.15              # standard deviation of valence and of arousal around the centroid

# Circumplex centroids (valence, arousal) of the basic expressions at full strength,
# after Russell (1980) and the expression means reported for AffectNet.
VA_CENTROIDS: dict[str, tuple[float, float]] = {
    "neutral": (0.0, 0.0),
    "anger": (-0.55, 0.65),
    "disgust": (-0.65, 0.35),
    "fear": (-0.60, 0.70),
    "happiness": (0.75, 0.45),
    "sadness": (-0.65, -0.35),
    "surprise": (0.20, 0.75),
}

_AU_COL = {au: j for j, au in enumerate(AUS)}


@dataclass
class AffectBatch:
    """The affect ground truth of N images (one per row)."""

    expr: np.ndarray          # (N,) index into EXPRESSIONS, -1 for a compound image
    compound: np.ndarray      # (N,) index into COMPOUND_CLASSES, -1 for a basic one
    strength: np.ndarray      # (N,)
    aus: np.ndarray           # (N, 17) float32 intensities, 0 = absent
    valence: np.ndarray       # (N,)
    arousal: np.ndarray       # (N,)

    def image(self, i: int) -> "ImageAffect":
        return ImageAffect(int(self.expr[i]), int(self.compound[i]), float(self.strength[i]), self.aus[i],
                           float(self.valence[i]), float(self.arousal[i]))


@dataclass
class ImageAffect:
    """The affect ground truth of one image (a row of `AffectBatch`)."""

    expr: int
    compound: int
    strength: float
    aus: np.ndarray
    valence: float
    arousal: float


def _probabilities(weights: dict[int, float]) -> np.ndarray:
    row = np.zeros(len(AUS))
    for au, p in weights.items():
        if au in _AU_COL:  # AU 11 of Du et al. is outside the 17 predicted AUs
            row[_AU_COL[au]] = p
    return row


@lru_cache(maxsize=4)
def expression_au_probabilities(table: str = AU_TABLE) -> np.ndarray:
    """(7, 17) p(AU on | expression) from the table's rows; neutral is all zero."""
    rows = {r.name: r for r in load_category_rows(table)}
    return np.stack([_probabilities(rows[e].weights()) if e in rows else np.zeros(len(AUS))
                     for e in EXPRESSIONS])


@lru_cache(maxsize=1)
def compound_table() -> tuple[tuple[str, tuple[str, ...], np.ndarray], ...]:
    """(name, components, p(AU on)) for each compound row of Du et al., in table order."""
    out = []
    for row in load_category_rows(COMPOUND_TABLE):
        if row.kind != "compound":
            continue
        probs = _probabilities(row.observational)
        probs = np.maximum(probs, _probabilities({au: PROTOTYPICAL_PROB for au in row.prototypical}))
        out.append((row.name, row.components, probs))
    return tuple(out)


COMPOUND_CLASSES: tuple[str, ...] = tuple(name for name, _, _ in compound_table())


def sample_strength(draws: Draws) -> np.ndarray:
    """How intense a non-neutral expression is: mostly clear, sometimes weak."""
    return 0.3 + 0.7 * draws.beta_2_1_5()


def sample_aus(probs: np.ndarray, strength: np.ndarray, draws: Draws) -> np.ndarray:
    """(N, 17) AU intensities: each AU fires with its probability (row of `probs`), or
    spuriously (weakly)."""
    n = probs.shape[1]
    fired = draws.uniform(n) < probs
    spurious = draws.uniform(n) < SPURIOUS_RATE
    base = np.where(fired, strength[:, None], draws.uniform(n, 0.15, 0.6))
    intensity = np.clip(base * np.exp(draws.normal(n, 0.0, INTENSITY_JITTER)), MIN_INTENSITY, 1.0)
    return np.where(fired | spurious, intensity, 0.0).astype(np.float32)


def sample_va(centroids: np.ndarray, strength: np.ndarray, draws: Draws) -> tuple[np.ndarray, np.ndarray]:
    """Valence/arousal around (N, 2) centroids, pulled towards the origin for weak expressions."""
    reach = 0.4 + 0.6 * strength
    va = np.clip(centroids * reach[:, None] + draws.normal(2, 0.0, VA_SPREAD), -1.0, 1.0)
    return va[:, 0], va[:, 1]


_CENTROIDS = np.array([VA_CENTROIDS[e] for e in EXPRESSIONS])
_NEUTRAL = EXPRESSIONS.index("neutral")


def sample_expressions(expr: np.ndarray, draws: Draws, table: str = AU_TABLE) -> AffectBatch:
    """AUs and VA of basic expressions (indices into EXPRESSIONS), one image per entry."""
    expr = np.asarray(expr, np.int64)
    strength = np.where(expr == _NEUTRAL, 0.0, sample_strength(draws))
    aus = sample_aus(expression_au_probabilities(table)[expr], strength, draws)
    v, a = sample_va(_CENTROIDS[expr], strength, draws)
    return AffectBatch(expr, np.full_like(expr, -1), strength, aus, v, a)


@lru_cache(maxsize=1)
def _compound_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(15, 17) p(AU on) and (15, 2) VA centroids (the mean of the components') of the compounds."""
    rows = compound_table()
    probs = np.stack([p for _, _, p in rows])
    centroids = np.array([np.mean([VA_CENTROIDS[c] for c in comps], axis=0) for _, comps, _ in rows])
    return probs, centroids


def sample_compounds(index: np.ndarray, draws: Draws) -> AffectBatch:
    """AUs and VA of compound classes (indices into COMPOUND_CLASSES), one image per entry."""
    index = np.asarray(index, np.int64)
    probs, centroids = _compound_arrays()
    strength = sample_strength(draws)
    aus = sample_aus(probs[index], strength, draws)
    v, a = sample_va(centroids[index], strength, draws)
    return AffectBatch(np.full_like(index, -1), index, strength, aus, v, a)
