"""Run a network over an image table and collect per-task outputs (probabilities / values)."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from facebehavior.labels import TaskSpec


def activate(task: TaskSpec, logits: torch.Tensor) -> torch.Tensor:
    """Logits → what a user reads: softmax, sigmoid, or the regression value (clamped to range)."""
    if task.kind == "multiclass":
        return logits.float().softmax(1)
    if task.kind == "multilabel":
        return logits.float().sigmoid()
    lo, hi = task.extra.get("range", (None, None))
    return logits.float().clamp(lo, hi) if lo is not None else logits.float()


def network_outputs(model, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Logits per task for uint8 crops (B, 3, S, S), prepared as the model's own `preprocessing`
    says (gray, normalisation, mirrored-crop averaging); the model may be DDP-wrapped."""
    from facebehavior.models.preprocessing import Preprocessing, prepared_outputs

    prep = getattr(getattr(model, "module", model), "preprocessing", None) or Preprocessing()
    return prepared_outputs(model, images, prep)


@torch.no_grad()
def predict_table(model, table, tasks: list[TaskSpec], device, batch_size: int = 256,
                  rank: int = 0, world_size: int = 1, num_workers: int = 0,
                  autocast_dtype=None) -> dict[str, np.ndarray]:
    """Outputs for every row of `table`, in row order, computed over ranks and gathered."""
    from facebehavior.evaluation.gather import gather_arrays

    was_training = model.training
    model.eval()
    rows = list(range(rank, len(table), world_size))
    loader = DataLoader(Subset(table, rows), batch_size=batch_size, num_workers=num_workers)
    outs: dict[str, list] = {t.name: [] for t in tasks}
    index: list = []
    for images, idx in loader:
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            logits = network_outputs(model, images.to(device, non_blocking=True))
        for t in tasks:
            outs[t.name].append(activate(t, logits[t.name]).cpu().numpy())
        index.append(idx.numpy())
    local = {k: np.concatenate(v) if v else np.zeros((0, t.size), np.float32)
             for (k, v), t in zip(outs.items(), tasks)}
    local["_index"] = np.concatenate(index) if index else np.zeros(0, np.int64)
    merged = gather_arrays(local)
    order = np.argsort(merged.pop("_index"), kind="stable")
    model.train(was_training)
    return {k: v[order] for k, v in merged.items()}
