"""Validation during training: per-database metrics, AU thresholds, the selection score."""

from __future__ import annotations

import numpy as np

from facebehavior.evaluation.predict import predict_table


def validate(model, table, tasks, cfg, device, dist, amp_dtype=None) -> tuple[dict, dict]:
    """Metrics on the validation table (all ranks compute, results gathered) and per-label
    thresholds for multi-label tasks, tuned for F1 on the same data."""
    from facebehavior.evaluation.evaluate import evaluate_predictions
    from facebehavior.evaluation.metrics import tune_thresholds

    if table is None:
        return {}, {}
    preds = predict_table(model, table, tasks, device, cfg.eval.batch_size, dist.rank, dist.world_size,
                          autocast_dtype=amp_dtype)
    labels = {k: v.numpy() for k, v in table.labels.items()}
    thresholds = {}
    if cfg.eval.tune_thresholds:
        for t in tasks:
            if t.kind == "multilabel":
                mask = ~np.isnan(labels[t.name])
                if mask.any():
                    thresholds[t.name] = tune_thresholds(preds[t.name], np.nan_to_num(labels[t.name]), mask).tolist()
    # Model selection uses the fixed 0.5 threshold: thresholds tuned on the same rows would flatter it.
    scores = evaluate_predictions(preds, labels, table.databases, tasks, protocols=cfg.eval.protocols or None)
    return scores, thresholds


def selection_score(scores: dict, metric: str) -> float | None:
    """`mean_primary`: the mean over databases and tasks of each one's primary metric;
    or one entry named `database/task/metric`."""
    if not scores:
        return None
    if metric != "mean_primary":
        db, task, name = metric.split("/")
        value = scores.get(db, {}).get(task, {}).get(name)
        return None if value is None else float(value)
    values = [m[m["primary"]] for db, per_task in scores.items() if db != "all"
              for m in per_task.values() if m.get("primary") in m and m[m["primary"]] == m[m["primary"]]]
    return float(np.mean(values)) if values else None
