import math

import pytest
from scipy import stats

from facebehavior.evaluation.significance import welch_difference


def test_difference_and_p_value_are_welchs():
    a, b = [0.30, 0.32, 0.31], [0.20, 0.22, 0.25]
    diff, p = welch_difference(a, b)
    assert diff == pytest.approx(0.31 - 0.22333333)
    assert p == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)


@pytest.mark.parametrize("a, b", [([0.3], [0.1, 0.2]), ([0.3, 0.3], [0.1, 0.1])], ids=["one seed", "no spread"])
def test_untestable_sets_give_the_difference_and_nan(a, b):
    diff, p = welch_difference(a, b)
    assert diff == pytest.approx(sum(a) / len(a) - sum(b) / len(b))
    assert math.isnan(p)


def test_missing_scores_are_left_out_and_an_empty_side_gives_nan():
    diff, p = welch_difference([0.30, float("nan"), 0.32, 0.31], [0.20, 0.22, 0.25])
    assert (diff, p) == welch_difference([0.30, 0.32, 0.31], [0.20, 0.22, 0.25])
    assert all(math.isnan(v) for v in welch_difference([float("nan")], [0.1, 0.2]))
    assert all(math.isnan(v) for v in welch_difference([], [0.1, 0.2]))
