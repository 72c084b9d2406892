"""Per-image random streams: the reseeded generators give NumPy's `default_rng` numbers."""

import zlib

import numpy as np

from facebehavior.data.synthface.presets import preset_databases
from facebehavior.data.synthface.sample import STREAM_IMAGE, STREAM_SUBJECT, _stream, make_sample


def test_streams_equal_default_rng_of_the_seed_sequence():
    for seed in (0, 7, 2 ** 40):
        for database in ("synth_rafdb", "synth_celeba"):
            for kind in (STREAM_IMAGE, STREAM_SUBJECT):
                for index in (0, 1, 99_999, 2 ** 33):
                    key = [seed, zlib.crc32(database.encode()), kind, index]
                    ref = np.random.default_rng(np.random.SeedSequence(key))
                    rng = _stream(seed, database, kind, index)
                    assert rng.random(4).tolist() == ref.random(4).tolist()
                    assert rng.normal(size=3).tolist() == ref.normal(size=3).tolist()
                    assert rng.integers(0, 100, 5).tolist() == ref.integers(0, 100, 5).tolist()


def test_samples_do_not_depend_on_what_was_sampled_before():
    spec = preset_databases("affect")[0]
    first = make_sample(spec, 3, 10)
    for i in (11, 0, 500):  # reseeding the shared generators must leave no trace
        make_sample(spec, 3, i)
    again = make_sample(spec, 3, 10)
    assert again.attributes == first.attributes and np.array_equal(again.affect.aus, first.affect.aus)
    assert again.params.nuisance == first.params.nuisance and again.subject == first.subject
