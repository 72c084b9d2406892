"""Evaluation metrics on NumPy arrays.

Conventions shared by every function here:
- multiclass targets are integer class indices; ``-1`` (any negative) means "no label" and the row
  is left out; predictions are class indices (N,) or scores/probabilities (N, C) (argmax is taken);
- multilabel targets are (N, K) with 0/1 and NaN = not annotated; ``mask`` (bool (N, K)) says which
  entries are annotated (default: the non-NaN ones); a label with no annotated entry gets NaN in
  per-label arrays and is excluded from every mean;
- F1 of a class/label that is annotated but has no positive target and no positive prediction is
  0.0 (scikit-learn's ``zero_division=0`` convention), so means never hide a class;
- every scalar returned is a Python float and never NaN unless documented.
"""

from __future__ import annotations

import numpy as np


# ---------------------------------------------------------------- regression

def ccc(pred, target) -> float:
    """Concordance correlation coefficient of two 1-D arrays (pairs with a NaN target are left out).

    ``2 cov / (var_p + var_t + (mean_p - mean_t)^2)`` with population moments, in [-1, 1].
    Degenerate inputs, by one rule: when either side is constant (all its values equal, one pair
    included) there is no co-variation and the CCC is 0.0, also for two identical constant vectors
    (where the formula reads 0/0): a constant prediction never scores above 0. No pairs: 0.0. Never
    NaN; a NaN or infinite prediction (or infinite target) is a ValueError, not a silent score.
    """
    pred = np.asarray(pred, dtype=np.float64).ravel()
    target = np.asarray(target, dtype=np.float64).ravel()
    if pred.shape != target.shape:
        raise ValueError(f"ccc: pred has {pred.size} values, target {target.size}")
    keep = ~np.isnan(target)
    pred, target = pred[keep], target[keep]
    bad = int((~np.isfinite(pred)).sum() + (~np.isfinite(target)).sum())
    if bad:
        raise ValueError(f"ccc: {bad} prediction(s) or target(s) are NaN or infinite")
    if pred.size == 0 or pred.min() == pred.max() or target.min() == target.max():
        return 0.0  # decided exactly: rounding in the mean must not turn constants into 1.0
    mp, mt = pred.mean(), target.mean()
    cov = np.mean((pred - mp) * (target - mt))
    denom = pred.var() + target.var() + (mp - mt) ** 2
    return float(np.clip(2.0 * cov / denom, -1.0, 1.0))


# ---------------------------------------------------------------- multiclass

def _class_pairs(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Labelled rows only, predictions as class indices."""
    y_true = np.asarray(y_true).astype(np.int64).ravel()
    y_pred = np.asarray(y_pred)
    if y_pred.ndim == 2:
        y_pred = y_pred.argmax(axis=1)
    y_pred = y_pred.astype(np.int64).ravel()
    if y_pred.shape != y_true.shape:
        raise ValueError(f"y_true has {y_true.size} rows, y_pred {y_pred.size}")
    keep = y_true >= 0
    return y_true[keep], y_pred[keep]


def accuracy(y_true, y_pred) -> float:
    """Fraction of labelled rows predicted right (0.0 when no row is labelled)."""
    t, p = _class_pairs(y_true, y_pred)
    return float(np.mean(t == p)) if t.size else 0.0


def confusion(y_true, y_pred, num_classes: int) -> np.ndarray:
    """(C, C) counts; row = true class, column = predicted class."""
    t, p = _class_pairs(y_true, y_pred)
    if t.size and (t.max() >= num_classes or p.max() >= num_classes or p.min() < 0):
        raise ValueError(f"class index outside 0..{num_classes - 1}")
    flat = np.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def _class_counts(y_true, y_pred, num_classes: int):
    """(true positives, support, predicted count) per class, without a C x C matrix (C may be 10k)."""
    t, p = _class_pairs(y_true, y_pred)
    if t.size and (t.max() >= num_classes or p.max() >= num_classes or p.min() < 0):
        raise ValueError(f"class index outside 0..{num_classes - 1}")
    tp = np.bincount(t[t == p], minlength=num_classes)
    return tp, np.bincount(t, minlength=num_classes), np.bincount(p, minlength=num_classes)


def per_class_recall(y_true, y_pred, num_classes: int) -> np.ndarray:
    """Recall per class (C,); NaN for classes absent from ``y_true``."""
    tp, support, _ = _class_counts(y_true, y_pred, num_classes)
    return np.where(support > 0, tp / np.maximum(support, 1), np.nan)


def mean_diag_confusion(y_true, y_pred, num_classes: int) -> float:
    """Mean diagonal of the row-normalised confusion matrix over classes present in ``y_true``.

    This is the unweighted average recall (UAR), RAF-DB's criterion.
    """
    recall = per_class_recall(y_true, y_pred, num_classes)
    return float(np.nanmean(recall)) if np.isfinite(recall).any() else 0.0


uar = mean_diag_confusion


def per_class_f1(y_true, y_pred, num_classes: int) -> np.ndarray:
    """F1 per class (C,); NaN for classes that appear neither in ``y_true`` nor in ``y_pred``."""
    tp, support, predicted = _class_counts(y_true, y_pred, num_classes)
    denom = support + predicted  # = 2tp + fp + fn
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), np.nan)


def macro_f1(y_true, y_pred, num_classes: int | None = None) -> float:
    """Mean F1 over the classes that occur in ``y_true`` or ``y_pred`` (scikit-learn's default set)."""
    t, p = _class_pairs(y_true, y_pred)
    if not t.size:
        return 0.0
    n = num_classes or int(max(t.max(), p.max())) + 1
    return float(np.nanmean(per_class_f1(t, p, n)))


def emotionet_expression_score(y_true, y_pred, num_classes: int | None = None) -> float:
    """EmotioNet Challenge expression criterion: mean of macro F1 and UAR."""
    t, p = _class_pairs(y_true, y_pred)
    if not t.size:
        return 0.0
    n = num_classes or int(max(t.max(), p.max())) + 1
    return 0.5 * (macro_f1(t, p, n) + mean_diag_confusion(t, p, n))


# ---------------------------------------------------------------- multilabel

def _binary(y_true, y_prob_or_pred, mask, threshold):
    y_true = np.asarray(y_true, dtype=np.float64)
    scores = np.asarray(y_prob_or_pred, dtype=np.float64)
    if y_true.ndim == 1:
        y_true, scores = y_true[:, None], scores.reshape(-1, 1)
    if scores.shape != y_true.shape:
        raise ValueError(f"targets have shape {y_true.shape}, predictions {scores.shape}")
    mask = ~np.isnan(y_true) if mask is None else np.asarray(mask, dtype=bool).reshape(y_true.shape)
    mask = mask & ~np.isnan(y_true)
    thr = np.broadcast_to(np.asarray(threshold, dtype=np.float64), (y_true.shape[1],))
    pos_true = (np.nan_to_num(y_true) > 0.5) & mask
    pos_pred = (scores >= thr) & mask
    return pos_true, pos_pred, mask


def _counts(pos_true, pos_pred, mask):
    tp = (pos_true & pos_pred).sum(0)
    fp = (~pos_true & pos_pred & mask).sum(0)
    fn = (pos_true & ~pos_pred).sum(0)
    return tp, fp, fn, mask.sum(0)


def f1_per_label(y_true, y_prob_or_pred, mask=None, threshold=0.5) -> np.ndarray:
    """F1 per label (K,) over annotated entries; NaN for labels without any annotated entry.

    ``threshold`` is one number or one per label; a score ``>= threshold`` is a positive, so 0/1
    predictions work with the default.
    """
    tp, fp, fn, n = _counts(*_binary(y_true, y_prob_or_pred, mask, threshold))
    denom = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    return np.where(n > 0, f1, np.nan)


def accuracy_per_label(y_true, y_prob_or_pred, mask=None, threshold=0.5) -> np.ndarray:
    """Accuracy per label (K,) over annotated entries; NaN for labels without any."""
    pos_true, pos_pred, mask = _binary(y_true, y_prob_or_pred, mask, threshold)
    right = ((pos_true == pos_pred) & mask).sum(0)
    n = mask.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, right / np.maximum(n, 1), np.nan)


def mean_defined(values) -> float:
    """Mean of the finite entries (labels without annotation are NaN); 0.0 when there are none."""
    values = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(values)) if np.isfinite(values).any() else 0.0


def mean_f1(y_true, y_prob_or_pred, mask=None, threshold=0.5) -> float:
    """Mean F1 over annotated labels (the FERA criterion for DISFA/BP4D/BP4D+/GFT)."""
    return mean_defined(f1_per_label(y_true, y_prob_or_pred, mask, threshold))


def mean_accuracy(y_true, y_prob_or_pred, mask=None, threshold=0.5) -> float:
    """Mean accuracy over annotated labels."""
    return mean_defined(accuracy_per_label(y_true, y_prob_or_pred, mask, threshold))


def afa_score(y_true, y_prob_or_pred, mask=None, threshold=0.5) -> float:
    """EmotioNet AU criterion: mean of (mean F1 over AUs) and (mean accuracy over AUs)."""
    return 0.5 * (mean_f1(y_true, y_prob_or_pred, mask, threshold)
                  + mean_accuracy(y_true, y_prob_or_pred, mask, threshold))


# ---------------------------------------------------------------- CelebA-style summaries

def total_accuracy(y_true, y_pred, mask=None, threshold=0.5) -> float:
    """Ids (1-D targets): accuracy. Attributes (2-D targets): mean accuracy over labels."""
    if np.asarray(y_true).ndim == 1:
        return accuracy(y_true, y_pred)
    return mean_accuracy(y_true, y_pred, mask, threshold)


def average_f1(y_true, y_pred, mask=None, threshold=0.5) -> float:
    """Ids (1-D targets): macro F1 over classes. Attributes (2-D targets): mean F1 over labels."""
    if np.asarray(y_true).ndim == 1:
        return macro_f1(y_true, y_pred)
    return mean_f1(y_true, y_pred, mask, threshold)


def abaw_mtl_score(ccc_v: float, ccc_a: float, expr_f1: float, au_f1: float) -> float:
    """ABAW multi-task criterion: mean(CCC-V, CCC-A) + expression macro F1 + AU mean F1."""
    return 0.5 * (ccc_v + ccc_a) + expr_f1 + au_f1


# ---------------------------------------------------------------- thresholds

THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)


def tune_thresholds(probs, targets, mask=None, grid=THRESHOLD_GRID) -> np.ndarray:
    """Per-label threshold (K,) from ``grid`` maximising F1 on validation data.

    Ties go to the threshold closest to 0.5; labels without annotation keep 0.5.
    """
    grid = np.asarray(grid, dtype=np.float64)
    order = np.argsort(np.abs(grid - 0.5), kind="stable")  # prefer moderate thresholds on ties
    probs = np.asarray(probs, dtype=np.float64)
    f1 = np.stack([f1_per_label(targets, probs, mask, t) for t in grid[order]])  # (T, K)
    best = grid[order][np.argmax(np.nan_to_num(f1, nan=-1.0), axis=0)]
    return np.where(np.isnan(f1[0]), 0.5, best)
