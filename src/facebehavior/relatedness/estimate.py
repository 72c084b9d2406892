"""Relatedness estimated from annotations that carry both tasks (Table 2 of the paper)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facebehavior.errors import FaceBehaviorError
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


@dataclass
class Estimate:
    """An estimated table with what it rests on: rows carrying both tasks, and thin entries."""

    table: Relatedness
    counts: np.ndarray  # (A, K) samples behind each entry
    rows_used: int
    rows_total: int

    @property
    def thin_entries(self) -> int:
        """Entries estimated from 1–4 samples."""
        return int(((self.counts > 0) & (self.counts < 5)).sum())


def estimate_from_labels(classes: np.ndarray, labels: np.ndarray, rows: tuple[str, ...], cols: tuple[str, ...],
                         names: tuple[str, str] = ("A", "B")) -> Estimate:
    """`estimate_relatedness` over encoded labels, refusing when no row carries both tasks."""
    classes, labels = np.asarray(classes), np.asarray(labels, dtype=np.float64)
    both = (classes >= 0) & ~np.isnan(labels).all(1)
    if not both.any():
        raise FaceBehaviorError(f"no row carries both {names[0]!r} and {names[1]!r} labels; nothing to estimate from")
    table, counts = estimate_relatedness(classes, labels, rows, cols)
    return Estimate(table, counts, int(both.sum()), len(classes))


def class_subjects(classes: np.ndarray, subjects: np.ndarray, names: tuple[str, ...]) -> dict[str, str]:
    """Class label → subject id when classes and subjects are one-to-one (identities: CelebA's
    class 0 is person "2880"), else {}. `classes`: class indices (NaN/negative = none)."""
    pairs = {(int(c), _plain(s)) for c, s in zip(classes, subjects)
             if c == c and c >= 0 and s == s and str(s) != ""}
    by_class, by_subject = {}, {}
    for c, s in pairs:
        by_class.setdefault(c, set()).add(s)
        by_subject.setdefault(s, set()).add(c)
    if not pairs or any(len(v) > 1 for v in by_class.values()) or any(len(v) > 1 for v in by_subject.values()):
        return {}
    return {names[c]: next(iter(s)) for c, s in by_class.items()}


def _plain(value) -> str:
    """2880.0 (a numeric subject column read by pandas) → "2880"."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
