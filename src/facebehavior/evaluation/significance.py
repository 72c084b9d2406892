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
