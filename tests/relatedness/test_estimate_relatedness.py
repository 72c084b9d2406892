"""estimate_relatedness: p(b | a) from annotations that carry both tasks."""

import numpy as np
import pytest

from facebehavior.relatedness import estimate_relatedness

NAN = np.nan


def test_hand_example_counts_only_annotated_samples_and_ignores_missing_class():
    classes = np.array([0, 0, 0, 1, 1, -1, 2])
    labels = np.array([
        [1, 0],
        [1, NAN],
        [0, 1],
        [NAN, 1],
        [1, 1],
        [1, 1],      # class −1: ignored
        [NAN, NAN],  # class 2 annotated for nothing: p = 0 from 0 samples
    ])
    rel, counts = estimate_relatedness(classes, labels, ("a", "b", "c"), ("x", "y"))
    # class 0: x on in 2 of 3 annotated; y on in 1 of 2 annotated (one NaN)
    # class 1: x on in 1 of 1 annotated; y on in 2 of 2
    np.testing.assert_allclose(rel.weights, [[2 / 3, 1 / 2], [1.0, 1.0], [0.0, 0.0]], rtol=1e-6)
    assert counts.tolist() == [[3, 2], [1, 2], [0, 0]]
    assert rel.prototypical.tolist() == [[False, False], [True, True], [False, False]]
    assert rel.rows == ("a", "b", "c") and rel.cols == ("x", "y")
    assert counts.dtype == np.int64


def test_all_classes_missing_gives_zero_table():
    rel, counts = estimate_relatedness(np.array([-1, -1]), np.array([[1.0], [0.0]]), ("a", "b"), ("x",))
    assert not rel.weights.any() and not counts.any()


def test_estimate_matches_a_frequency_count_on_random_data():
    rng = np.random.default_rng(0)
    classes = rng.integers(-1, 4, 500)
    labels = (rng.random((500, 5)) < 0.3).astype(float)
    labels[rng.random((500, 5)) < 0.2] = NAN
    rel, counts = estimate_relatedness(classes, labels, tuple("abcd"), tuple("vwxyz"))
    for a in range(4):
        for b in range(5):
            col = labels[classes == a, b]
            col = col[~np.isnan(col)]
            assert counts[a, b] == len(col)
            assert rel.weights[a, b] == pytest.approx(col.mean(), rel=1e-5)
