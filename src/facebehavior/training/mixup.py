"""Mixup (Zhang et al. 2018) for batches whose samples label different tasks.

Each image is blended with a partner, x' = λ·x + (1 − λ)·x[partner], λ ~ Beta(α, α) once per step,
and every named loss becomes λ·L(labels) + (1 − λ)·L(labels[partner]). For cross entropy and
binary cross entropy that is exactly the loss against the mixed targets, so soft vote targets,
hard labels and missing labels need no special encoding. (For the CCC loss, which is not linear in
its targets, it is the usual approximation.) Coupling terms that read no labels (distribution
matching) are the same on both sides.

Partners are drawn among the samples that label the same tasks: a mixed image is then described
on every task it is trained on by both of its sources. Pairing an expression-only image with an
AU-only one would train the expression head on a face half of which no expression label
describes. A sample with no partner of its kind keeps its own image.
"""

from __future__ import annotations

import numpy as np
import torch

from facebehavior.labels import TaskSpec
from facebehavior.losses.objective import labelled_rows


def partners(tasks: list[TaskSpec], labels: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
    """(N,) each sample's mixing partner: a random permutation of the samples that label the same
    tasks as it does (so a sample alone of its kind, or drawn onto itself, keeps its own image)."""
    masks = torch.stack([labelled_rows(t, labels).cpu() for t in tasks], 1)
    signature = (masks.long() * (2 ** torch.arange(len(tasks)))).sum(1)
    order = torch.arange(len(signature))
    for value in signature.unique():
        rows = (signature == value).nonzero().squeeze(1)
        order[rows] = rows[torch.randperm(len(rows), generator=generator)]
    return order


def draw_lambda(alpha: float, generator: torch.Generator) -> float:
    """λ ~ Beta(α, α), seeded from `generator` (one draw per step, so a resumed run replays it)."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    return float(np.random.default_rng(seed).beta(alpha, alpha))


def mix_inputs(x: torch.Tensor, partner: torch.Tensor, lam: float) -> torch.Tensor:
    """λ·x + (1 − λ)·x[partner]."""
    return lam * x + (1.0 - lam) * x[partner.to(x.device)]


def mixed_losses(objective, logits: dict, labels: dict, partner: torch.Tensor, lam: float,
                 present: dict | None = None) -> dict[str, torch.Tensor]:
    """Every named loss (and `total`) as λ·L(labels) + (1 − λ)·L(labels of the partners); `present`
    marks a task present when either side labels it."""
    moved = partner.to(next(iter(labels.values())).device)
    swapped = {k: v[moved] for k, v in labels.items()}
    seen_a: dict | None = {} if present is not None else None
    seen_b: dict | None = {} if present is not None else None
    a = objective(logits, labels, present=seen_a)
    b = objective(logits, swapped, present=seen_b)
    if present is not None:
        present.update({k: seen_a[k] or seen_b[k] for k in seen_a})
    return {k: lam * a[k] + (1.0 - lam) * b[k] for k in a}
