"""Per-image random streams (`Draws`) and chunk-independent sampling."""

import numpy as np
import pytest
from scipy import stats

from facebehavior.synthface.draws import DRAWS_PER_IMAGE, Draws, stream_key
from facebehavior.synthface.presets import preset_databases
from facebehavior.synthface.sample import make_sample, sample_batch


def _splitmix64(key: int, steps: int) -> list[int]:
    """The reference SplitMix64 generator (Steele et al. 2014) in plain Python."""
    mask, out, state = (1 << 64) - 1, [], key
    for _ in range(steps):
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        out.append(z ^ (z >> 31))
    return out


def test_draws_are_the_splitmix64_stream_at_each_images_offset():
    key = stream_key(3, 12345, 0)
    reference = _splitmix64(key, 2 * DRAWS_PER_IMAGE + 4)
    u = Draws(key, np.array([0, 2])).uniform(4)
    for row, image in enumerate((0, 2)):
        expected = [(v >> 11) * 2.0 ** -53 for v in reference[image * DRAWS_PER_IMAGE:][:4]]
        assert u[row].tolist() == expected


def test_an_images_draws_do_not_depend_on_its_chunk():
    key = stream_key(1, 2, 3)
    whole = Draws(key, np.arange(10))
    part = Draws(key, np.arange(4, 7))
    draws = (lambda d: d.uniform(5), lambda d: d.normal(3), lambda d: d.integers(0, 9, 2), lambda d: d.beta_2_1_5())
    for draw in draws:
        assert np.array_equal(draw(whole)[4:7], draw(part))


def test_distributions():
    draws = Draws(stream_key(7), np.arange(20000))
    u, z, beta = draws.uniform(), draws.normal(), draws.beta_2_1_5()
    assert stats.kstest(u, "uniform").pvalue > 1e-4
    assert stats.kstest(z, "norm").pvalue > 1e-4
    assert stats.kstest(beta, stats.beta(2, 1.5).cdf).pvalue > 1e-4
    picks = draws.choice(np.array([1.0, 2.0, 7.0]))
    assert np.allclose(np.bincount(picks) / len(picks), [0.1, 0.2, 0.7], atol=0.015)
    assert set(np.unique(draws.integers(3, 6))) == {3, 4, 5}
    assert abs(np.corrcoef(u, z)[0, 1]) < 0.03  # successive draws are not related


def test_an_image_cannot_take_more_than_its_share_of_numbers():
    draws = Draws(stream_key(0), np.arange(2))
    draws.uniform(DRAWS_PER_IMAGE)
    with pytest.raises(RuntimeError, match="at most"):
        draws.uniform()


def test_samples_do_not_depend_on_the_chunk_or_what_was_sampled_before():
    spec = preset_databases("affect")[0]
    first = make_sample(spec, 3, 10)
    batch = sample_batch(spec, 3, 5, 20)
    for i in (11, 0, 500):
        make_sample(spec, 3, i)
    for again in (make_sample(spec, 3, 10), batch.sample(5)):
        assert again.attributes == first.attributes and np.array_equal(again.affect.aus, first.affect.aus)
        assert again.params.nuisance == first.params.nuisance and again.subject == first.subject


def test_an_index_outside_the_database_is_refused():
    spec = preset_databases("affect", 0.01)[0]
    with pytest.raises(IndexError, match="beyond"):
        sample_batch(spec, 0, 0, sum(spec.sizes.values()) + 1)
