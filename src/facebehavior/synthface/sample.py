"""The images of a synthetic database: parameters and ground truth, from (seed, database, index).

Images are sampled in chunks (`sample_batch`), vectorised: every image has its own counter-based
random stream (`Draws`, keyed by preset seed and database name, indexed by the image index), and
every subject its own NumPy stream seeded by (preset seed, database name, subject index). Results
therefore do not depend on how images are spread over chunks or worker processes, or in which
order they are made; `make_sample` is a chunk of one.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from facebehavior.synthface.affect import (COMPOUND_CLASSES, AffectBatch, ImageAffect, sample_compounds,
                                                sample_expressions)
from facebehavior.synthface.draws import Draws, stream_key
from facebehavior.synthface.identity import Identity, WearBatch, attributes, sample_identity, sample_wear
from facebehavior.synthface.nuisance import NuisanceBatch
from facebehavior.synthface.params import SYNTH_ATTRIBUTES, FaceParams
from facebehavior.synthface.presets import DatabaseSpec
from facebehavior.labels import EXPRESSIONS

STREAM_IMAGE, STREAM_SUBJECT = 0, 1
SMILE_GAIN = 2.0              # how much an identity's smile propensity tilts its expressions
_HAPPINESS = EXPRESSIONS.index("happiness")


@dataclass
class SynthSample:
    """One image: what it is rendered from and its ground truth."""

    params: FaceParams
    split: str
    subject: int
    affect: ImageAffect
    attributes: dict[str, int]


@dataclass
class SampleBatch:
    """Images [start, start + N) of a database: one entry (or row) per image."""

    start: int
    split: list[str]
    subject: np.ndarray
    identities: list[Identity]
    affect: AffectBatch
    wear: WearBatch
    nuisance: NuisanceBatch
    attributes: np.ndarray    # (N, len(SYNTH_ATTRIBUTES)) 0/1

    def __len__(self) -> int:
        return len(self.split)

    def params(self, i: int) -> FaceParams:
        """What image i is rendered from."""
        return FaceParams(self.identities[i].shape, self.wear.wear(i), self.affect.aus[i], self.nuisance.nuisance(i))

    def sample(self, i: int) -> SynthSample:
        return SynthSample(self.params(i), self.split[i], int(self.subject[i]), self.affect.image(i),
                           dict(zip(SYNTH_ATTRIBUTES, self.attributes[i].tolist())))


@lru_cache(maxsize=64)
def _crc(database: str) -> int:
    return zlib.crc32(database.encode())


@lru_cache(maxsize=4096)
def subject_identity(seed: int, database: str, subject: int, skin_shift: float) -> Identity:
    rng = np.random.default_rng(np.random.SeedSequence([seed, _crc(database), STREAM_SUBJECT, subject]))
    return sample_identity(rng, skin_shift)


def _splits(spec: DatabaseSpec, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(split number in `spec.sizes` order, position within the split) of each image index."""
    ends = np.cumsum(list(spec.sizes.values()))
    if len(indices) and not 0 <= indices.min() <= indices.max() < ends[-1]:
        raise IndexError(f"{spec.name}: image index beyond its {ends[-1]} images")
    which = np.searchsorted(ends, indices, side="right")
    return which, indices - np.concatenate([[0], ends])[which]


def _subjects(spec: DatabaseSpec, which: np.ndarray, position: np.ndarray, draws: Draws) -> np.ndarray:
    u = draws.uniform()  # drawn for every database, so the draws after it keep their meaning
    counts = np.array([spec.subjects[name] for name in spec.sizes])
    if spec.role == "identity":  # the same identities in every split, round robin
        return position % counts[which]
    # disjoint subjects per split (subject-independent), numbered in `spec.subjects` order
    offsets = dict(zip(spec.subjects, np.concatenate([[0], np.cumsum(list(spec.subjects.values()))]).tolist()))
    first = np.array([offsets[name] for name in spec.sizes])
    return first[which] + np.floor(u * counts[which]).astype(np.int64)


def _affect(spec: DatabaseSpec, which, position, identities: list[Identity], draws: Draws) -> AffectBatch:
    if spec.role == "compound":  # classes in turn: a balanced set
        return sample_compounds(position % len(COMPOUND_CLASSES), draws)
    priors = np.array([spec.prior_for(name) for name in spec.sizes], float)[which]
    if spec.role == "identity":  # some people smile more than others
        priors[:, _HAPPINESS] *= SMILE_GAIN * np.array([ident.propensity["smile"] for ident in identities])
    return sample_expressions(draws.choice(priors), draws)


def sample_batch(spec: DatabaseSpec, seed: int, start: int, stop: int) -> SampleBatch:
    """Parameters and ground truth of images [start, stop) of `spec` (deterministic)."""
    indices = np.arange(start, stop, dtype=np.int64)
    draws = Draws(stream_key(seed, _crc(spec.name), STREAM_IMAGE), indices)
    which, position = _splits(spec, indices)
    subject = _subjects(spec, which, position, draws)
    shift = spec.nuisance.skin_shift
    identities = [subject_identity(seed, spec.name, s, shift) for s in subject.tolist()]
    affect = _affect(spec, which, position, identities, draws)
    wear = sample_wear(identities, draws)
    nuisance = spec.nuisance.sample(draws)
    names = list(spec.sizes)
    return SampleBatch(start, [names[k] for k in which.tolist()], subject, identities, affect, wear, nuisance,
                       attributes(identities, wear, affect.aus, nuisance.blur))


def make_sample(spec: DatabaseSpec, seed: int, index: int) -> SynthSample:
    """Parameters and ground truth of image `index` of `spec` (the same as in any batch)."""
    return sample_batch(spec, seed, index, index + 1).sample(0)
