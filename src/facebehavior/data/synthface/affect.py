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

from facebehavior.data.synthface.draws import clamp
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
class AffectSample:
    """The affect ground truth of one image."""

    expr: int                 # index into EXPRESSIONS, -1 for a compound image
    compound: int             # index into COMPOUND_CLASSES, -1 for a basic one
    strength: float
    aus: np.ndarray           # (17,) intensities, 0 = absent
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


def sample_strength(rng: np.random.Generator) -> float:
    """How intense a non-neutral expression is: mostly clear, sometimes weak."""
    return float(0.3 + 0.7 * rng.beta(2.0, 1.5))


def sample_aus(probs: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """AU intensities: each AU fires with its probability, or spuriously (weakly)."""
    n = len(probs)
    fired = rng.random(n) < probs
    spurious = rng.random(n) < SPURIOUS_RATE
    base = np.where(fired, strength, rng.uniform(0.15, 0.6, n))
    intensity = np.clip(base * np.exp(rng.normal(0.0, INTENSITY_JITTER, n)), MIN_INTENSITY, 1.0)
    return np.where(fired | spurious, intensity, 0.0).astype(np.float32)


def sample_va(centroid: tuple[float, float], strength: float, rng: np.random.Generator) -> tuple[float, float]:
    """Valence/arousal around the centroid, pulled towards the origin for weak expressions."""
    reach = 0.4 + 0.6 * strength
    v, a = np.asarray(centroid) * reach + rng.normal(0.0, VA_SPREAD, 2)
    return clamp(v, -1.0, 1.0), clamp(a, -1.0, 1.0)


def sample_expression(expr: int, rng: np.random.Generator, table: str = AU_TABLE) -> AffectSample:
    """AUs and VA of a basic expression (index into EXPRESSIONS)."""
    strength = 0.0 if EXPRESSIONS[expr] == "neutral" else sample_strength(rng)
    aus = sample_aus(expression_au_probabilities(table)[expr], strength, rng)
    v, a = sample_va(VA_CENTROIDS[EXPRESSIONS[expr]], strength, rng)
    return AffectSample(expr, -1, strength, aus, v, a)


def sample_compound(index: int, rng: np.random.Generator) -> AffectSample:
    """AUs and VA of a compound class; its VA centroid is the mean of its components'."""
    _, components, probs = compound_table()[index]
    strength = sample_strength(rng)
    aus = sample_aus(probs, strength, rng)
    centroid = tuple(np.mean([VA_CENTROIDS[c] for c in components], axis=0))
    v, a = sample_va(centroid, strength, rng)
    return AffectSample(-1, index, strength, aus, v, a)
