"""Metrics by name, per task kind: the vocabulary a protocol is written in.

Each named metric takes the rows of one task (a `TaskRows`) and returns a dict of floats. Summary
metrics return one key equal to their name (so they can be a protocol's ``primary``); per-label
metrics (``per_*``) return ``"<metric>/<label name>"`` keys, only for labels with annotations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from facebehavior.evaluation import metrics as m


@dataclass
class TaskRows:
    """The evaluated rows of one task.

    multiclass: ``target`` int (n,), every row labelled; ``scores`` predicted class (n,) or (n, C).
    multilabel: ``target`` float (n, K), NaN = not annotated; ``scores`` probabilities (n, K);
    ``threshold`` (K,). regression: ``target`` float (n, K), NaN = not annotated; ``scores`` (n, K).
    """

    kind: str
    labels: tuple[str, ...]
    target: np.ndarray
    scores: np.ndarray
    threshold: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.target.shape[0])

    @property
    def mask(self) -> np.ndarray:
        return ~np.isnan(self.target)


def _per_label(prefix: str, labels, values) -> dict[str, float]:
    return {f"{prefix}/{name}": float(v) for name, v in zip(labels, values) if np.isfinite(v)}


def _mc(fn) -> Callable[[TaskRows], float]:
    return lambda r: fn(r.target, r.scores, len(r.labels))


def _ml(fn) -> Callable[[TaskRows], float]:
    return lambda r: fn(r.target, r.scores, r.mask, r.threshold)


def _mean_ccc(r: TaskRows) -> float:
    annotated = np.flatnonzero(r.mask.any(0))
    return m.mean_defined([m.ccc(r.scores[:, j], r.target[:, j]) for j in annotated])


def _per_label_ccc(r: TaskRows) -> dict[str, float]:
    annotated = r.mask.any(0)
    values = [m.ccc(r.scores[:, j], r.target[:, j]) if annotated[j] else np.nan for j in range(len(r.labels))]
    return _per_label("ccc", r.labels, values)


def _rmse(r: TaskRows) -> float:
    err = (r.scores - r.target)[r.mask]
    return float(np.sqrt(np.mean(err ** 2))) if err.size else 0.0


SUMMARY: dict[str, dict[str, Callable[[TaskRows], float]]] = {
    "multiclass": {
        "accuracy": lambda r: m.accuracy(r.target, r.scores),
        "mean_diag": _mc(m.mean_diag_confusion),
        "uar": _mc(m.mean_diag_confusion),
        "macro_f1": _mc(m.macro_f1),
        "emotionet_expression_score": _mc(m.emotionet_expression_score),
        "total_accuracy": lambda r: m.accuracy(r.target, r.scores),
        "average_f1": _mc(m.macro_f1),
    },
    "multilabel": {
        "f1": _ml(m.mean_f1),
        "accuracy": _ml(m.mean_accuracy),
        "afa": _ml(m.afa_score),
        "total_accuracy": _ml(m.total_accuracy),
        "average_f1": _ml(m.average_f1),
    },
    "regression": {
        "ccc": _mean_ccc,
        "rmse": _rmse,
    },
}

PER_LABEL: dict[str, dict[str, Callable[[TaskRows], dict[str, float]]]] = {
    "multiclass": {
        "per_class_recall": lambda r: _per_label(
            "recall", r.labels, m.per_class_recall(r.target, r.scores, len(r.labels))),
        "per_class_f1": lambda r: _per_label("f1", r.labels, m.per_class_f1(r.target, r.scores, len(r.labels))),
    },
    "multilabel": {
        "per_label_f1": lambda r: _per_label("f1", r.labels, m.f1_per_label(r.target, r.scores, r.mask, r.threshold)),
        "per_label_accuracy": lambda r: _per_label(
            "accuracy", r.labels, m.accuracy_per_label(r.target, r.scores, r.mask, r.threshold)),
    },
    "regression": {
        "per_label_ccc": _per_label_ccc,
    },
}


def metric_names(kind: str | None = None) -> tuple[str, ...]:
    """Known metric names for one kind, or for all kinds."""
    kinds = [kind] if kind else list(SUMMARY)
    names: list[str] = []
    for k in kinds:
        names += [n for n in (*SUMMARY[k], *PER_LABEL[k]) if n not in names]
    return tuple(names)


def compute(name: str, rows: TaskRows) -> dict[str, float]:
    """Values of metric ``name`` on ``rows`` (a dict; one key for summary metrics)."""
    if name in SUMMARY[rows.kind]:
        return {name: float(SUMMARY[rows.kind][name](rows))}
    if name in PER_LABEL[rows.kind]:
        return PER_LABEL[rows.kind][name](rows)
    raise KeyError(name)
