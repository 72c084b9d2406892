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


def test_holm_matches_the_step_down_rule_and_statsmodels_example():
    from facebehavior.evaluation.significance import holm

    # m = 4: sorted 0.01, 0.02, 0.03, 0.04 → ×4, ×3, ×2, ×1 = 0.04, 0.06, 0.06, 0.04 → monotone 0.04, 0.06, 0.06, 0.06
    got = holm([0.03, 0.01, 0.04, 0.02])
    assert got.tolist() == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm([0.5, 0.9]).tolist() == pytest.approx([1.0, 1.0])  # capped at 1


def test_holm_leaves_untestable_comparisons_out_of_the_family():
    from facebehavior.evaluation.significance import holm

    got = holm([0.01, float("nan"), 0.02])
    assert got[0] == pytest.approx(0.02) and got[2] == pytest.approx(0.02) and math.isnan(got[1])
    assert all(math.isnan(v) for v in holm([float("nan")]))


def test_welch_interval_is_centred_on_the_difference_and_agrees_with_the_test():
    from facebehavior.evaluation.significance import welch_interval

    a, b = [0.30, 0.32, 0.31, 0.35, 0.29], [0.20, 0.22, 0.25, 0.21, 0.30]
    low, high = welch_interval(a, b)
    diff, p = welch_difference(a, b)
    assert (low + high) / 2 == pytest.approx(diff)
    assert (low > 0) == (p < 0.05)  # the 95% interval excludes 0 exactly when p < 0.05
    wide = welch_interval(a, b, level=0.99)
    assert wide[0] < low and wide[1] > high
    assert all(math.isnan(v) for v in welch_interval([0.3], [0.1, 0.2]))
    # the 95% interval's edge has p = 0.05 against it: shifting b by the lower edge puts the test at the boundary
    shifted = [x + low for x in b]
    assert stats.ttest_ind(a, shifted, equal_var=False).pvalue == pytest.approx(0.05, rel=1e-6)
