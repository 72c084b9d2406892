"""Distillation as data: a manifest whose soft-label columns blend the crowd's votes with the
averaged predictions of an ensemble of trained teachers (Hinton et al. 2015).

target = α · votes + (1 − α) · mean over teachers of p_teacher(x)  (each teacher with its own
preprocessing, mirrored-crop averaging included), on every row that has votes. The student then
trains with the ordinary trainer on that manifest (soft cross entropy), so distillation needs no
second training loop; the teachers see each un-augmented training image once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from facebehavior import atomic
from facebehavior.errors import FaceBehaviorError


def teacher_probabilities(teachers: list[str | Path], manifest: Path, split: str = "train",
                          device: str = "cpu", say=print) -> tuple[pd.Index, dict[str, np.ndarray]]:
    """Rows of `split` (their manifest index) and, per multiclass task, the teachers' mean probabilities."""
    import torch

    from facebehavior.data.datasets import ImageTable
    from facebehavior.evaluation.predict import predict_table
    from facebehavior.models.checkpoint import load_model
    from facebehavior.data.manifest import load_split

    sums, tasks_seen, rows = {}, None, None
    for path in teachers:
        model, _, cfg = load_model(path, device)
        tasks = [t for t in cfg.task_specs() if t.kind == "multiclass"]
        if tasks_seen is not None and [(t.name, t.labels) for t in tasks] != tasks_seen:
            raise FaceBehaviorError(f"teacher {path} has other expression heads than the first teacher")
        tasks_seen = [(t.name, t.labels) for t in tasks]
        part = load_split([str(manifest)], tasks, split, None)
        table = ImageTable(part, tasks, model.preprocessing.image_size)
        say(f"teacher {path}: predicting {len(table)} {split} images")
        preds = predict_table(model, table, tasks, torch.device(device))
        for t in tasks:
            sums[t.name] = sums.get(t.name, 0) + preds[t.name]
        rows = part.frame["path"].to_numpy()
    return rows, {k: v / len(teachers) for k, v in sums.items()}


def distilled_manifest(manifest: Path, teachers: list[str | Path], alpha: float, out: Path,
                       device: str = "cpu", say=print) -> Path:
    """A copy of `manifest` whose train rows' `<task>_soft_<label>` columns hold the blended target."""
    if not 0.0 <= alpha <= 1.0:
        raise FaceBehaviorError(f"distillation alpha {alpha}: use a value in [0, 1] (1 = votes only)")
    if not teachers:
        raise FaceBehaviorError("distillation needs at least one teacher checkpoint")
    frame = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    paths, probs = teacher_probabilities(teachers, manifest, "train", device, say)
    where = {p: i for i, p in enumerate(paths)}
    train = np.flatnonzero(frame["split"].to_numpy() == "train")
    order = np.array([where.get(frame["path"].iat[i], -1) for i in train])
    if (order < 0).any():
        raise FaceBehaviorError(f"{manifest}: {int((order < 0).sum())} train rows were not predicted by the teachers")
    for task, p in probs.items():
        columns = [c for c in frame.columns if c.startswith(f"{task}_soft_")]
        if len(columns) != p.shape[1]:
            raise FaceBehaviorError(f"{manifest}: {len(columns)} soft columns for {task}, teachers give {p.shape[1]}")
        votes = frame.loc[frame.index[train], columns].replace("", np.nan).astype(float).to_numpy()
        has = ~np.isnan(votes).any(1)
        blended = alpha * np.nan_to_num(votes) + (1 - alpha) * p[order]
        cells = np.where(has[:, None], np.round(blended, 6).astype(str), "")
        frame.loc[frame.index[train], columns] = cells
    with atomic.replacing(out) as tmp:
        frame.to_csv(tmp, index=False)
    return out
