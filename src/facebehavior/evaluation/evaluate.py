"""Per-database evaluation of a model's predictions on a labelled set.

`evaluate_predictions` splits the rows by database, evaluates each task only on the rows that carry
it (and, for multilabel tasks, only the labels that database annotates), using the database's
protocol; an ``"all"`` pseudo-database pools every row with the default protocol of each kind.
"""

from __future__ import annotations

import numpy as np

from facebehavior.errors import FaceBehaviorError
from facebehavior.evaluation import metrics
from facebehavior.evaluation.protocols import DEFAULTS, protocol_for
from facebehavior.evaluation.task_metrics import TaskRows, compute
from facebehavior.labels import TaskSpec

ALL = "all"


def _multiclass_targets(task: TaskSpec, labels: dict) -> tuple[np.ndarray, np.ndarray]:
    """Hard labels, falling back to the argmax of a soft label; and where the fallback was used."""
    hard = np.asarray(labels[task.name]).astype(np.int64)
    soft = labels.get(f"{task.name}_soft")
    from_soft = np.zeros(hard.shape, bool)
    if soft is not None:
        soft = np.asarray(soft, dtype=np.float64)
        has_soft = ~np.isnan(soft).all(1)
        from_soft = (hard < 0) & has_soft
        hard = np.where(from_soft, np.nan_to_num(soft, nan=-np.inf).argmax(1), hard)
    return hard, from_soft


def _check_shapes(task: TaskSpec, pred: np.ndarray, target: np.ndarray, n: int) -> None:
    if pred.shape != (n, task.size):
        raise FaceBehaviorError(f"predictions for task {task.name!r} have shape {pred.shape}; expected "
                                f"({n}, {task.size}) (one row per sample, one column per label)")
    if target.shape[0] != n:
        raise FaceBehaviorError(f"labels for task {task.name!r} have {target.shape[0]} rows; predictions {n}")


def _thresholds(task: TaskSpec, thresholds: dict | None) -> np.ndarray:
    value = (thresholds or {}).get(task.name, 0.5)
    thr = np.asarray(value, dtype=np.float64).ravel()
    if thr.size == 1:
        thr = np.full(task.size, thr[0])
    if thr.size != task.size:
        raise FaceBehaviorError(f"thresholds for task {task.name!r}: {thr.size} values for {task.size} labels")
    return thr


def _task_arrays(task: TaskSpec, preds: dict, labels: dict, n: int, thresholds):
    """(target, scores, carries, extra) for the whole set; ``carries`` = the row has a label."""
    if task.name not in preds:
        raise FaceBehaviorError(f"no predictions for task {task.name!r}; got tasks {sorted(preds)}")
    if task.name not in labels:
        raise FaceBehaviorError(f"no labels for task {task.name!r}; pass encode_labels(frame, tasks)")
    scores = np.asarray(preds[task.name])
    if scores.dtype.kind not in "fiub":
        raise FaceBehaviorError(f"predictions for task {task.name!r} are {scores.dtype}, not numbers")
    if task.kind == "multiclass":
        target, from_soft = _multiclass_targets(task, labels)
        carries = target >= 0
        extra = {"from_soft": from_soft}
        if (target >= task.size).any():
            raise FaceBehaviorError(f"labels for task {task.name!r} hold class {int(target.max())}; "
                                    f"the task has {task.size} classes {list(task.labels)[:10]}")
    else:
        target = np.asarray(labels[task.name], dtype=np.float64)
        carries = ~np.isnan(target).all(1)
        extra = {"threshold": _thresholds(task, thresholds) if task.kind == "multilabel" else None}
    _check_shapes(task, scores, target, n)
    bad = carries & ~np.isfinite(scores).all(1)
    if bad.any():
        raise FaceBehaviorError(f"predictions for task {task.name!r} are not finite on {int(bad.sum())} labelled "
                                f"row(s), first row {int(np.flatnonzero(bad)[0])}; the model may have diverged")
    # multiclass metrics need only the predicted class: reduce once (CelebA has 10k classes)
    scores = scores.argmax(1) if task.kind == "multiclass" else scores.astype(np.float64)
    return target, scores, carries, extra


def _evaluate_rows(task: TaskSpec, arrays, rows: np.ndarray, proto) -> dict | None:
    target, scores, carries, extra = arrays
    rows = rows & carries
    if not rows.any():
        return None
    data = TaskRows(task.kind, task.labels, target[rows], scores[rows], extra.get("threshold"))
    values: dict = {}
    for name in proto.metrics:
        values.update(compute(name, data))
    values["primary"] = proto.primary
    values["n"] = data.n
    if task.kind == "multiclass" and extra["from_soft"][rows].any():
        values["n_target_from_soft"] = int(extra["from_soft"][rows].sum())
    if task.kind != "multiclass":
        values["n_labels"] = int(data.mask.any(0).sum())
    return values


def evaluate_predictions(preds: dict, labels: dict, databases, tasks: list[TaskSpec],
                         protocols: dict | None = None, thresholds: dict | None = None) -> dict:
    """``{database: {task: {metric: value, ..., "primary": name, "n": rows}}}`` plus ``"all"``.

    ``preds``: task name -> (N, C) class scores / (N, K) label probabilities / (N, K) values.
    ``labels``: `facebehavior.data.manifest.encode_labels` output. ``databases``: (N,) names.
    ``protocols``: ``{database: spec}`` overriding the registry for this call. ``thresholds``:
    task name -> one threshold or one per label (multilabel; default 0.5). A multiclass row whose
    hard label is missing but soft label present is scored against the soft label's argmax
    (counted as ``n_target_from_soft``). Multilabel/regression results carry ``n_labels``, the
    number of labels annotated there. Tasks no row of a database carries are absent from it.
    """
    databases = np.asarray(databases).astype(str)
    n = databases.shape[0]
    if ALL in set(databases):
        raise FaceBehaviorError(f"a database is named {ALL!r}, which is reserved for the pooled results; rename it")
    arrays = {t.name: _task_arrays(t, preds, labels, n, thresholds) for t in tasks}
    results: dict = {}
    for db in [*sorted(set(databases)), ALL]:
        rows = np.ones(n, bool) if db == ALL else databases == db
        for t in tasks:
            proto = DEFAULTS[t.kind] if db == ALL else protocol_for(db, t.name, t.kind, protocols)
            values = _evaluate_rows(t, arrays[t.name], rows, proto)
            if values is not None:
                results.setdefault(db, {})[t.name] = values
    return results


def confusion_matrices(preds: dict, labels: dict, databases, tasks: list[TaskSpec],
                       max_classes: int = 50) -> dict:
    """JSON-ready confusion matrices of multiclass tasks: ``{database: {task: {labels, matrix}}}``.

    Store them in a report's ``extra["confusion"]`` so `plots.figures_from_metrics` can redraw them.
    A task with more than ``max_classes`` classes (e.g. 10,177 CelebA identities) gets
    ``{"skipped": reason}`` instead of a matrix.
    """
    databases = np.asarray(databases).astype(str)
    n = databases.shape[0]
    out: dict = {}
    for t in (t for t in tasks if t.kind == "multiclass"):
        target, scores, carries, _ = _task_arrays(t, preds, labels, n, None)
        if t.size > max_classes:
            reason = f"{t.size} classes is more than max_classes={max_classes}"
            for db in [*sorted(set(databases[carries])), ALL]:
                out.setdefault(db, {})[t.name] = {"skipped": reason}
            continue
        for db in [*sorted(set(databases)), ALL]:
            rows = carries & (True if db == ALL else databases == db)
            if rows.any():
                cm = metrics.confusion(target[rows], scores[rows], t.size)
                out.setdefault(db, {})[t.name] = {"labels": list(t.labels), "matrix": cm.tolist()}
    return out


def flatten_results(results: dict, prefix: str = "eval") -> dict[str, float]:
    """``{"eval/<database>/<task>/<metric>": value}`` of every numeric entry (for JSONL logs)."""
    return {f"{prefix}/{db}/{task}/{name}": value
            for db, tasks in results.items() for task, values in tasks.items()
            for name, value in values.items() if isinstance(value, (int, float))}
