"""Relatedness estimated from annotations that carry both tasks (Table 2 of the paper)."""

from __future__ import annotations

import numpy as np

from facebehavior.relatedness.tables import Relatedness


def estimate_relatedness(classes: np.ndarray, labels: np.ndarray, rows: tuple[str, ...],
                         cols: tuple[str, ...], source: str = "estimated") -> tuple[Relatedness, np.ndarray]:
    """p(b | a) = fraction of samples of class a in which label b is on.

    `classes`: (N,) class index, negative = no class; `labels`: (N, K) 0/1 with NaN = not
    annotated. Only samples annotated for b count towards p(b | a). Returns the table and the
    (A, K) count of samples behind each entry, so a caller can flag thin estimates.
    """
    classes = np.asarray(classes)
    labels = np.asarray(labels, dtype=np.float64)
    keep = classes >= 0
    classes, labels = classes[keep], labels[keep]
    annotated = ~np.isnan(labels)
    # Scatter-add per class: a dense one-hot (N × A) would need ~13 GB for CelebA's 10,177 ids.
    counts = np.zeros((len(rows), labels.shape[1]), np.float64)  # samples of class a annotated for b
    positives = np.zeros_like(counts)
    np.add.at(counts, classes.astype(int), annotated)
    np.add.at(positives, classes.astype(int), np.where(annotated, labels, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(counts > 0, positives / np.maximum(counts, 1), 0.0)
    rel = Relatedness(tuple(rows), tuple(cols), p.astype(np.float32), p >= 1.0, source)
    return rel, counts.astype(np.int64)
