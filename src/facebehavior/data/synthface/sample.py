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


_PCG_MULTIPLIER = 0x2360ED051FC65DA44385DF649FCCF645
_MASK_128 = (1 << 128) - 1
_GENERATORS = {STREAM_IMAGE: np.random.Generator(np.random.PCG64()),
               STREAM_SUBJECT: np.random.Generator(np.random.PCG64())}


def _pcg64_state(seq: np.random.SeedSequence) -> dict:
    """The state `PCG64(seq)` starts in (NumPy's pcg64_set_seed), without building a new PCG64."""
    v = seq.generate_state(4, np.uint64).tolist()
    inc = (((v[2] << 64 | v[3]) << 1) | 1) & _MASK_128
    state = ((inc + (v[0] << 64 | v[1])) * _PCG_MULTIPLIER + inc) & _MASK_128
    return {"bit_generator": "PCG64", "state": {"state": state, "inc": inc}, "has_uint32": 0, "uinteger": 0}


def _stream(seed: int, database: str, kind: int, index: int) -> np.random.Generator:
    """`default_rng(SeedSequence([seed, crc32(database), kind, index]))`, the same numbers.

    Building a Generator per image is a sizeable share of sampling it, so one per stream kind is
    reseeded in place: a returned generator is valid until the next `_stream` call of the same kind.
    """
    rng = _GENERATORS[kind]
    rng.bit_generator.state = _pcg64_state(np.random.SeedSequence([seed, _crc(database), kind, index]))
    return rng


@lru_cache(maxsize=64)
def _crc(database: str) -> int:
    return zlib.crc32(database.encode())


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
    on = {au: a > 0 for au, a in zip(AUS, affect.aus.tolist())}
    attrs = attributes(ident, wear, on, nuisance.blur)
    return SynthSample(FaceParams(ident.shape, wear, affect.aus, nuisance), split, subject, affect, attrs)
