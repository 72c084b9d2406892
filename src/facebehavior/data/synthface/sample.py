"""One image of a synthetic database: its parameters and ground truth, from (seed, database, index).

Every image has its own random stream, seeded by (preset seed, database name, image index), and
every subject one seeded by (preset seed, database name, subject index). Results therefore do
not depend on how images are spread over worker processes, or in which order they are made.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from facebehavior.data.synthface.affect import COMPOUND_CLASSES, AffectSample, sample_compound, sample_expression
from facebehavior.data.synthface.draws import pick
from facebehavior.data.synthface.identity import Identity, attributes, sample_identity, sample_wear
from facebehavior.data.synthface.params import FaceParams
from facebehavior.data.synthface.presets import DatabaseSpec
from facebehavior.labels import AUS, EXPRESSIONS

STREAM_IMAGE, STREAM_SUBJECT = 0, 1
SMILE_GAIN = 2.0              # how much an identity's smile propensity tilts its expressions


@dataclass
class SynthSample:
    params: FaceParams
    split: str
    subject: int
    affect: AffectSample
    attributes: dict[str, int]


def _stream(seed: int, database: str, kind: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(database.encode()), kind, index]))


@lru_cache(maxsize=4096)
def subject_identity(seed: int, database: str, subject: int, skin_shift: float) -> Identity:
    return sample_identity(_stream(seed, database, STREAM_SUBJECT, subject), skin_shift)


def locate(spec: DatabaseSpec, index: int) -> tuple[str, int]:
    """(split, position within the split) of a database-wide image index; splits come in order."""
    for split, n in spec.sizes.items():
        if index < n:
            return split, index
        index -= n
    raise IndexError(f"{spec.name}: image index beyond its {sum(spec.sizes.values())} images")


def _subject(spec: DatabaseSpec, split: str, position: int, rng: np.random.Generator) -> int:
    if spec.role == "identity":  # the same identities in every split, round robin
        return position % spec.subjects[split]
    offset = 0
    for name, n in spec.subjects.items():  # disjoint subjects per split (subject-independent)
        if name == split:
            return offset + int(rng.integers(n))
        offset += n
    raise KeyError(split)


def _affect(spec: DatabaseSpec, split: str, position: int, ident: Identity, rng) -> AffectSample:
    if spec.role == "compound":  # classes in turn: a balanced set
        return sample_compound(position % len(COMPOUND_CLASSES), rng)
    prior = np.asarray(spec.prior_for(split), float)
    if spec.role == "identity":  # some people smile more than others
        prior = prior * np.where(np.array(EXPRESSIONS) == "happiness", SMILE_GAIN * ident.propensity["smile"], 1.0)
    return sample_expression(pick(rng, prior), rng)


def make_sample(spec: DatabaseSpec, seed: int, index: int) -> SynthSample:
    """Parameters and ground truth of image `index` of `spec` (deterministic)."""
    rng = _stream(seed, spec.name, STREAM_IMAGE, index)
    split, position = locate(spec, index)
    subject = _subject(spec, split, position, rng)
    ident = subject_identity(seed, spec.name, subject, spec.nuisance.skin_shift)
    affect = _affect(spec, split, position, ident, rng)
    wear = sample_wear(ident, rng)
    nuisance = spec.nuisance.sample(rng)
    on = {au: bool(affect.aus[j] > 0) for j, au in enumerate(AUS)}
    attrs = attributes(ident, wear, on, nuisance.blur)
    return SynthSample(FaceParams(ident.shape, wear, affect.aus, nuisance), split, subject, affect, attrs)
