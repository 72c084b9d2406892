"""Differences between runs over seeds, with Welch's t-test: the one test every study report uses."""

from __future__ import annotations

import numpy as np


def welch_difference(a, b) -> tuple[float, float]:
    """(mean(a) − mean(b), Welch's two-sided p-value) of two sets of per-seed scores, NaNs (runs
    without that score) left out.

    The difference is NaN when a side has no score; the p-value is NaN when it cannot be computed:
    fewer than two values on a side, or no spread on either side (identical runs).
    """
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) == 0 or len(b) == 0:
        return float("nan"), float("nan")
    diff = float(a.mean() - b.mean())
    if len(a) > 1 and len(b) > 1 and (a.std() > 0 or b.std() > 0):
        return diff, float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    return diff, float("nan")


def welch_interval(a, b, level: float = 0.95) -> tuple[float, float]:
    """Welch's confidence interval of mean(a) − mean(b) (NaNs left out): (low, high), NaN where the
    test is undefined (fewer than two values on a side, or no spread on either side)."""
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) < 2 or len(b) < 2 or (a.std() == 0 and b.std() == 0):
        return float("nan"), float("nan")
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = np.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = float(stats.t.ppf(0.5 + level / 2, dof) * se)
    diff = float(a.mean() - b.mean())
    return diff - half, diff + half


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control over all comparisons given).

    Sorted ascending, the k-th smallest of m p-values is multiplied by (m − k + 1), made monotone
    non-decreasing along that order and capped at 1; a comparison is significant at level α when its
    adjusted p is below α. NaN p-values (untestable comparisons) stay NaN and do not count in m.
    """
    p = np.asarray(pvalues, float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if not m:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out[order] = adjusted
    return out
