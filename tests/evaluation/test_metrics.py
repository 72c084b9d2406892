"""Each metric against values computed by hand in the comments, plus scikit-learn cross-checks."""

import math

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score

from facebehavior.evaluation import metrics as m

NAN = np.nan


# ---------------------------------------------------------------- CCC

def test_ccc_identical_is_one():
    assert m.ccc([0.1, -0.5, 0.7], [0.1, -0.5, 0.7]) == pytest.approx(1.0)


def test_ccc_shifted_predictions_are_penalised():
    # target 1,2,3; pred = target + 1: var 2/3 each, cov 2/3, mean gap 1 -> 2(2/3) / (4/3 + 1) = 4/7
    assert m.ccc([2, 3, 4], [1, 2, 3]) == pytest.approx(4 / 7)


def test_ccc_negated_predictions():
    # pred = -target: cov -2/3, mean gap 4 -> -(4/3) / (4/3 + 16) = -1/13
    assert m.ccc([-1, -2, -3], [1, 2, 3]) == pytest.approx(-1 / 13)


@pytest.mark.parametrize("pred,target", [([2, 2, 2], [1, 2, 3]), ([5, 5], [5, 5]), ([], [])])
def test_ccc_undefined_is_zero_not_nan(pred, target):
    value = m.ccc(pred, target)
    assert value == 0.0 and not math.isnan(value)


def test_ccc_leaves_out_missing_targets():
    assert m.ccc([1, 2, 3, 99], [1, 2, 3, NAN]) == pytest.approx(1.0)


# ---------------------------------------------------------------- multiclass

def test_accuracy_ignores_unlabelled_rows_and_takes_argmax():
    assert m.accuracy([0, 1, 2, -1], [0, 2, 2, 1]) == pytest.approx(2 / 3)
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert m.accuracy([0, 1, 1], probs) == pytest.approx(2 / 3)


def test_confusion_counts_rows_true_columns_predicted():
    cm = m.confusion([0, 0, 1, 2, -1], [0, 1, 1, 0, 2], 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]


def test_mean_diag_is_uar_over_classes_in_truth():
    # class 0: 2 of 3 right, class 1: 1 of 1 right; class 2 absent from truth -> (2/3 + 1) / 2
    assert m.mean_diag_confusion([0, 0, 0, 1], [0, 0, 1, 1], 3) == pytest.approx(5 / 6)
    # a predicted-but-absent class does not enter the mean: (1/3 + 1) / 2
    assert m.mean_diag_confusion([0, 0, 0, 1], [0, 2, 1, 1], 3) == pytest.approx(2 / 3)


def test_macro_f1_by_hand():
    # class 0: tp 1, fn 1 -> 2/3; class 1: tp 2, fp 1 -> 4/5
    assert m.macro_f1([0, 0, 1, 1], [0, 1, 1, 1]) == pytest.approx((2 / 3 + 4 / 5) / 2)


def test_multiclass_metrics_match_sklearn_with_missing_labels():
    rng = np.random.default_rng(0)
    t = rng.integers(-1, 5, 300)
    p = rng.integers(0, 6, 300)
    lab = t >= 0
    assert m.macro_f1(t, p, 6) == pytest.approx(f1_score(t[lab], p[lab], average="macro"))
    with pytest.warns(UserWarning):  # sklearn warns that y_pred has a class absent from y_true
        expected = balanced_accuracy_score(t[lab], p[lab])
    assert m.mean_diag_confusion(t, p, 6) == pytest.approx(expected)


def test_emotionet_expression_score_is_mean_of_f1_and_uar():
    # macro F1 11/15 (above), UAR (1/2 + 1) / 2 = 3/4
    assert m.emotionet_expression_score([0, 0, 1, 1], [0, 1, 1, 1]) == pytest.approx((11 / 15 + 0.75) / 2)


# ---------------------------------------------------------------- multilabel

ML_TRUE = np.array([[1, 0], [0, 0], [1, 1], [0, 1]], float)
ML_PRED = np.array([[1, 0], [1, 0], [1, 1], [0, 0]], float)
# label 0: pred 1,1,1,0 vs true 1,0,1,0 -> tp 2, fp 1 -> F1 0.8, acc 3/4
# label 1: pred 0,0,1,0 vs true 0,0,1,1 -> tp 1, fn 1 -> F1 2/3, acc 3/4


def test_f1_per_label_by_hand():
    np.testing.assert_allclose(m.f1_per_label(ML_TRUE, ML_PRED), [0.8, 2 / 3])
    assert m.mean_f1(ML_TRUE, ML_PRED) == pytest.approx((0.8 + 2 / 3) / 2)


def test_afa_is_mean_of_mean_f1_and_mean_accuracy():
    assert m.afa_score(ML_TRUE, ML_PRED) == pytest.approx(((0.8 + 2 / 3) / 2 + 0.75) / 2)


def test_f1_per_label_missing_annotations_and_thresholds():
    y = np.array([[1, 0, NAN], [1, NAN, NAN], [0, NAN, NAN], [0, NAN, NAN]])
    p = np.array([[0.9, 0.2, 0.9], [0.4, 0.9, 0.9], [0.6, 0.9, 0.9], [0.1, 0.9, 0.9]])
    f1 = m.f1_per_label(y, p)
    # label 0: pred 1,0,1,0 vs 1,1,0,0 -> 2/4; label 1: one negative, predicted negative -> 0 (no positives)
    # label 2: never annotated -> NaN, and left out of the mean
    assert f1[0] == pytest.approx(0.5) and f1[1] == 0.0 and math.isnan(f1[2])
    assert m.mean_f1(y, p) == pytest.approx(0.25)
    # per-label threshold: label 0 at 0.3 -> pred 1,1,1,0 -> tp 2, fp 1 -> 0.8
    assert m.f1_per_label(y, p, threshold=[0.3, 0.5, 0.5])[0] == pytest.approx(0.8)
    # an explicit mask hides row 0 of label 0: pred 0,1,0 vs 1,0,0 -> tp 0 -> 0
    mask = ~np.isnan(y)
    mask[0, 0] = False
    assert m.f1_per_label(y, p, mask)[0] == 0.0


def test_multilabel_f1_matches_sklearn_per_label():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, (200, 4)).astype(float)
    p = rng.random((200, 4))
    y[rng.random((200, 4)) < 0.3] = NAN
    ours = m.f1_per_label(y, p)
    for k in range(4):
        keep = ~np.isnan(y[:, k])
        assert ours[k] == pytest.approx(f1_score(y[keep, k], p[keep, k] >= 0.5))


def test_total_accuracy_and_average_f1_for_ids_and_attributes():
    assert m.total_accuracy([0, 1, 2, 2], [0, 1, 1, 2]) == pytest.approx(0.75)
    # ids: class 0 F1 1, class 1 tp 1 fp 1 -> 2/3, class 2 tp 1 fn 1 -> 2/3
    assert m.average_f1([0, 1, 2, 2], [0, 1, 1, 2]) == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    assert m.total_accuracy(ML_TRUE, ML_PRED) == pytest.approx(0.75)
    assert m.average_f1(ML_TRUE, ML_PRED) == pytest.approx((0.8 + 2 / 3) / 2)


def test_abaw_mtl_score():
    assert m.abaw_mtl_score(0.5, 0.3, 0.4, 0.6) == pytest.approx(0.4 + 0.4 + 0.6)


# ---------------------------------------------------------------- thresholds

def test_tune_thresholds_fixes_a_label_where_half_is_wrong():
    # label 0: positives score 0.3, negatives 0.1 -> F1 0 at 0.5, 1 for any threshold in (0.1, 0.3]
    truth = np.array([[1, 1, NAN], [1, 0, NAN], [0, 1, NAN], [0, 0, NAN]])
    probs = np.array([[0.3, 0.9, 0.5], [0.3, 0.2, 0.5], [0.1, 0.8, 0.5], [0.1, 0.1, 0.5]])
    assert m.f1_per_label(truth, probs)[0] == 0.0
    thr = m.tune_thresholds(probs, truth)
    assert thr[0] == pytest.approx(0.3)  # of the tied best thresholds, the one closest to 0.5
    assert thr[1] == pytest.approx(0.5)  # 0.5 is already perfect here
    assert thr[2] == 0.5  # never annotated
    assert m.f1_per_label(truth, probs, threshold=thr)[0] == pytest.approx(1.0)


@pytest.mark.parametrize("value", [0.5, 0.3, 0.1, -0.7, 1 / 3, 1e-9, 123.456, 0.0])
def test_ccc_of_two_identical_constant_vectors_is_zero_for_every_constant(value):
    # the formula reads 0/0; rounding in the mean once made some constants score 1.0
    for n in (1, 2, 3, 7, 1000):
        assert m.ccc([value] * n, [value] * n) == 0.0


@pytest.mark.parametrize("pred,target", [
    ([0.3] * 5, [0.1, 0.2, 0.3, 0.4, 0.5]),  # constant prediction, varying target
    ([0.1, 0.2, 0.3, 0.4, 0.5], [0.3] * 5),  # varying prediction, constant target
    ([0.3] * 4, [0.6] * 4),  # two different constants
    ([0.3], [0.9]),  # one pair
    ([1.0, 2.0, NAN], [NAN, NAN, NAN]),  # no pair left
])
def test_ccc_of_a_constant_side_or_no_pairs_is_zero(pred, target):
    assert m.ccc(pred, target) == 0.0


def test_ccc_stays_within_minus_one_and_one_and_refuses_non_finite_predictions():
    rng = np.random.default_rng(0)
    x = rng.normal(size=1000) * 1e-150  # tiny moments
    assert -1.0 <= m.ccc(x, x) <= 1.0 and m.ccc(x, x) == pytest.approx(1.0)
    assert m.ccc(-(x - x.mean()), x - x.mean()) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="1 prediction"):
        m.ccc([0.1, NAN, 0.3], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="NaN or infinite"):
        m.ccc([0.1, 0.2, 0.3], [0.1, np.inf, 0.3])
    assert m.ccc([NAN, 0.2, 0.3, 0.1], [NAN, 0.2, 0.3, 0.1]) == pytest.approx(1.0)  # unlabelled pair left out
