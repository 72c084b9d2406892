"""Evaluate a checkpoint on manifests: each database with its own metric; JSON, markdown, PNGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from facebehavior.data.datasets import ImageTable
from facebehavior.errors import ManifestError
from facebehavior.evaluation.predict import predict_table


def evaluate_tables(model, table: ImageTable, tasks, thresholds: dict, device, batch_size: int = 256,
                    num_workers: int = 0, rank: int = 0, world_size: int = 1, protocols: dict | None = None):
    """Predictions, per-database results and confusion matrices for one image table."""
    from facebehavior.evaluation.evaluate import confusion_matrices, evaluate_predictions

    preds = predict_table(model, table, tasks, device, batch_size, rank, world_size, num_workers)
    labels = {k: v.numpy() for k, v in table.labels.items()}
    thr = {k: np.asarray(v) for k, v in (thresholds or {}).items()}
    results = evaluate_predictions(preds, labels, table.databases, tasks, protocols=protocols or None, thresholds=thr)
    return preds, labels, results, confusion_matrices(preds, labels, table.databases, tasks)


def evaluate_run(checkpoint, cfg=None, manifests: list[str] | None = None, split: str = "test",
                 out_dir: str | Path | None = None, device: str = "cpu", batch_size: int | None = None,
                 plots: bool = True) -> Path | None:
    """Evaluate `checkpoint` on the `split` rows of `manifests` (default: the config's test, else
    train manifests). Writes metrics.json, report.md and figures into `out_dir`; returns the
    report path, or None when there is nothing to evaluate."""
    from facebehavior.evaluation.report import write_report
    from facebehavior.models.checkpoint import load_model
    from facebehavior.data.manifest import load_split

    model, meta, saved_cfg = load_model(checkpoint, device)
    cfg = cfg or saved_cfg
    tasks = saved_cfg.task_specs()
    paths = manifests or cfg.data.test or cfg.data.train
    manifest = load_split(list(paths), tasks, split, cfg.data.root)
    if manifest is None:
        return None
    table = ImageTable(manifest, tasks, saved_cfg.data.image_size)
    if not any(carried.any() for carried in table.presence.values()):
        raise ManifestError(f"{', '.join(map(str, paths))}: none of the {len(table)} {split!r} row(s) carries a label "
                            f"of the checkpoint's tasks ({_label_columns(tasks)}); evaluation needs labels (to "
                            "predict on unlabelled images, use `facebehavior analyze`)")
    if cfg.data.cache == "memory":
        table.cache_in_memory(workers=cfg.data.num_workers, store=cfg.data.cache_dir)
    preds, labels, results, confusion = evaluate_tables(
        model, table, tasks, meta.thresholds, torch.device(device), batch_size or cfg.eval.batch_size,
        protocols=cfg.eval.protocols)
    run_dir = Path(checkpoint).parent.parent if Path(checkpoint).parent.name == "checkpoints" else Path(checkpoint).parent
    out = Path(out_dir or run_dir / "eval")
    extra = {"confusion": confusion, "checkpoint": str(checkpoint), "split": split,
             "trained_tasks": meta.trained_tasks, "thresholds": meta.thresholds}
    written = write_report(results, out, f"{saved_cfg.name}: {split} split", extra)
    if plots:
        _figures(results, confusion, preds, labels, tasks, table.databases, out, run_dir)
    return written["markdown"]


def _label_columns(tasks) -> str:
    """The manifest columns that label `tasks`, briefly: `expr`, `au1`...`au43`, `valence`, `arousal`."""
    parts = []
    for t in tasks:
        cols = [t.name] if t.kind == "multiclass" else list(t.columns)
        parts.append(f"{t.name}: column{'s' if len(cols) > 1 else ''} " +
                     (f"{cols[0]!r}...{cols[-1]!r}" if len(cols) > 3 else ", ".join(map(repr, cols))))
    return "; ".join(parts)


def _figures(results, confusion, preds, labels, tasks, databases, out: Path, run_dir: Path) -> None:
    from facebehavior.evaluation import plots

    fig_dir = out / "figures"
    log = run_dir / "log.jsonl"
    if log.is_file():
        plots.plot_training_curves(log, fig_dir / "training_curves.png")
    for db, per_task in confusion.items():
        for task, cm in per_task.items():
            if db != "all" and "matrix" in cm:  # huge class sets (identities) store only a reason
                plots.plot_confusion(np.asarray(cm["matrix"]), cm["labels"], fig_dir / f"confusion_{db}_{task}.png",
                                     title=f"{db} {task}")
    for t in tasks:
        if t.kind == "multilabel":
            for db, per_task in results.items():
                if t.name in per_task and db != "all":
                    plots.plot_per_label_f1(results, db, t.name, fig_dir / f"f1_{db}_{t.name}.png")
        if t.kind == "regression":
            keep = ~np.isnan(labels[t.name]).any(1)
            if keep.sum() > 1:
                plots.plot_va_scatter(preds[t.name][keep], labels[t.name][keep], fig_dir / f"scatter_{t.name}.png",
                                      names=t.labels)
