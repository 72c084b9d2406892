"""The training objective: named task losses and coupling losses, weighted, as a dict.

Σ λ_t L_t (eq. 2 / 9) plus, per coupling pair (softmax task A, multi-label task B, R), any of
co-annotation (rewrites the batch labels before the task losses), soft co-annotation (eq. 7) and
distribution matching (eq. 4 / 11), each with its own weight. The trainer sums `total` and logs
every entry.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from facebehavior.labels import TaskSpec
from facebehavior.losses.coupling import coannotate, distribution_matching, soft_coannotation
from facebehavior.losses.tasks import ccc_loss, masked_bce, mse_loss, multiclass_ce


@dataclass
class CouplingTerm:
    """One coupled pair with its relatedness matrices (weighted and binary) and options."""

    multiclass: str
    multilabel: str
    weights: torch.Tensor  # (A, B): 1 prototypical, w observational, 0 none
    config: object  # facebehavior.config.CouplingConfig

    @property
    def name(self) -> str:
        return f"{self.multiclass}-{self.multilabel}"


class MultiTaskObjective(nn.Module):
    def __init__(self, tasks: list[TaskSpec], couplings: list[CouplingTerm] | None = None):
        super().__init__()
        self.tasks = tasks
        self.couplings = couplings or []
        for i, c in enumerate(self.couplings):
            self.register_buffer(f"_rel{i}", c.weights.float())

    def _relatedness(self, i: int) -> torch.Tensor:
        return getattr(self, f"_rel{i}")

    def forward(self, logits: dict[str, torch.Tensor], labels: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        labels = dict(labels)
        sample_weights: dict[str, torch.Tensor] = {}
        losses: dict[str, torch.Tensor] = {}
        for i, c in enumerate(self.couplings):
            if c.config.coannotation.enabled:
                a, b, w = coannotate(labels[c.multiclass], labels[c.multilabel], self._relatedness(i),
                                     c.config.coannotation.observational)
                labels[c.multiclass], labels[c.multilabel] = a, b
                sample_weights[c.multilabel] = w
        for t in self.tasks:
            out = logits[t.name]
            if t.kind == "multiclass":
                loss = multiclass_ce(out, labels[t.name], labels.get(f"{t.name}_soft"))
            elif t.kind == "multilabel":
                loss = masked_bce(out, labels[t.name], sample_weights.get(t.name))
            else:
                loss = ccc_loss(out, labels[t.name]) if t.loss == "ccc" else mse_loss(out, labels[t.name])
            losses[t.name] = loss * t.weight
        for i, c in enumerate(self.couplings):
            rel = self._relatedness(i)
            sca, dm = c.config.soft_coannotation, c.config.distribution_matching
            if sca.enabled:
                w = rel if sca.weighting == "weighted" else (rel > 0).to(rel.dtype)
                losses[f"sca:{c.name}"] = sca.weight * soft_coannotation(
                    logits[c.multiclass], labels[c.multilabel], w, sca.form, sca.neutral)
            if dm.enabled:
                r = rel if dm.relatedness_mode == "weighted" else (rel > 0).to(rel.dtype)
                losses[f"dm:{c.name}"] = dm.weight * distribution_matching(
                    logits[c.multiclass], logits[c.multilabel], r, dm.form, dm.grad_to)
        losses["total"] = torch.stack(list(losses.values())).sum()
        return losses
