"""The training objective: named task losses and coupling losses, weighted, as a dict.

Σ λ_t L_t (eq. 2 / 9) plus, per coupling pair (softmax task A, multi-label task B, R), any of
co-annotation (rewrites the batch labels before the task losses), soft co-annotation (eq. 7) and
distribution matching (eq. 4 / 11), each with its own weight. The trainer sums `total` and logs
every entry. Coupling terms hold plain options (`CouplingTerm.from_config` reads them from a
`facebehavior.config.CouplingConfig`), so the losses do not depend on the config's layout.
"""

from __future__ import annotations

import dataclasses
from dataclasses import KW_ONLY, dataclass

import torch
from torch import nn

from facebehavior.labels import TaskSpec
from facebehavior.losses.coupling import coannotate, distribution_matching, soft_coannotation
from facebehavior.losses.tasks import ccc_loss, masked_bce, mse_loss, multiclass_ce


@dataclass(frozen=True)
class CoAnnotation:
    """Co-annotated labels count `weight` times a database-given one in the task losses."""

    weight: float
    observational: str


@dataclass(frozen=True)
class SoftCoAnnotation:
    weight: float
    form: str
    weighting: str
    neutral: str
    temperature: float


@dataclass(frozen=True)
class DistributionMatching:
    weight: float
    form: str
    relatedness_mode: str
    grad_to: str
    unlinked: str


@dataclass
class CouplingTerm:
    """One coupled pair with its relatedness matrix and the options of each enabled term (None: off)."""

    multiclass: str
    multilabel: str
    weights: torch.Tensor  # (A, B): 1 prototypical, w observational, 0 none
    _: KW_ONLY
    coannotation: CoAnnotation | None = None
    soft_coannotation: SoftCoAnnotation | None = None
    distribution_matching: DistributionMatching | None = None

    @property
    def name(self) -> str:
        return f"{self.multiclass}-{self.multilabel}"

    @classmethod
    def from_config(cls, cfg, weights: torch.Tensor) -> CouplingTerm:
        """The term a `CouplingConfig` describes: each enabled section's fields but `enabled`."""
        def options(section, kind):
            if not section.enabled:
                return None
            return kind(**{k: v for k, v in dataclasses.asdict(section).items() if k != "enabled"})

        return cls(cfg.multiclass, cfg.multilabel, weights, coannotation=options(cfg.coannotation, CoAnnotation),
                   soft_coannotation=options(cfg.soft_coannotation, SoftCoAnnotation),
                   distribution_matching=options(cfg.distribution_matching, DistributionMatching))


def _binary(rel: torch.Tensor) -> torch.Tensor:
    return (rel > 0).to(rel.dtype)


def _coannotated(a: torch.Tensor, b: torch.Tensor, rel: torch.Tensor, opts: CoAnnotation):
    """Co-annotated labels and their loss weights: (a', b', per-sample a weights, per-entry b weights).

    Labels the database gave weigh 1; labels co-annotation filled in weigh `opts.weight` (times the
    observational weight for B labels), so weight 0 gives exactly the losses without co-annotation.
    """
    new_a, new_b, w_b = coannotate(a, b, rel, opts.observational)
    filled_b = torch.isnan(b) & ~torch.isnan(new_b)
    w_b = torch.where(filled_b, w_b * opts.weight, w_b)
    filled_a = (a < 0) & (new_a >= 0)
    w_a = torch.where(filled_a, torch.full_like(w_b[:, 0], opts.weight), torch.ones_like(w_b[:, 0]))
    return new_a, new_b, w_a, w_b


def labelled_rows(t: TaskSpec, labels: dict[str, torch.Tensor]) -> torch.Tensor:
    """(N,) whether each sample carries any label of task `t` (the encodings of losses/tasks.py)."""
    y = labels[t.name]
    if t.kind == "multiclass":
        soft = labels.get(f"{t.name}_soft")
        return (y >= 0) if soft is None else (y >= 0) | ~torch.isnan(soft).any(1)
    return ~torch.isnan(y).all(1) if y.dim() > 1 else ~torch.isnan(y)


def _labelled(t: TaskSpec, labels: dict[str, torch.Tensor], weights: torch.Tensor | None) -> bool:
    """Whether task `t`'s loss (losses/tasks.py) has a labelled sample in the batch, by its own rule."""
    if t.kind == "multiclass":
        has = labelled_rows(t, labels)
        return bool((has if weights is None else has & (weights > 0)).any())
    has = ~torch.isnan(labels[t.name])
    if t.kind == "multilabel":
        return bool((has if weights is None else has & (weights > 0)).any())
    return bool((has.sum(0) >= 2).any()) if t.loss == "ccc" else bool(has.any())


class MultiTaskObjective(nn.Module):
    def __init__(self, tasks: list[TaskSpec], couplings: list[CouplingTerm] | None = None,
                 label_smoothing: float = 0.0):
        super().__init__()
        self.tasks = tasks
        self.couplings = couplings or []
        self.label_smoothing = label_smoothing  # of every multiclass task's cross entropy
        for i, c in enumerate(self.couplings):
            self.register_buffer(f"_rel{i}", c.weights.float())

    def _relatedness(self, i: int) -> torch.Tensor:
        return getattr(self, f"_rel{i}")

    def forward(self, logits: dict[str, torch.Tensor], labels: dict[str, torch.Tensor],
                present: dict[str, bool] | None = None) -> dict[str, torch.Tensor]:
        """Named losses and their sum `total`. A dict passed as `present` receives, per task, whether
        the batch labels it (after co-annotation) with a non-zero task weight: a task it marks False
        has an exact-zero loss and sends no gradient anywhere (task balancing leaves it out)."""
        given = labels  # the database's labels: soft co-annotation reads these, never co-annotated ones
        labels = dict(labels)
        sample_weights: dict[str, torch.Tensor] = {}
        for i, c in enumerate(self.couplings):
            if c.coannotation is not None:
                a, b, w_a, w_b = _coannotated(labels[c.multiclass], labels[c.multilabel], self._relatedness(i),
                                              c.coannotation)
                labels[c.multiclass], labels[c.multilabel] = a, b
                sample_weights[c.multiclass], sample_weights[c.multilabel] = w_a, w_b
        losses = self._task_losses(logits, labels, sample_weights)
        if present is not None:
            present.update({t.name: t.weight > 0 and _labelled(t, labels, sample_weights.get(t.name))
                            for t in self.tasks})
        for i, c in enumerate(self.couplings):
            losses.update(self._coupling_losses(c, self._relatedness(i), logits, given))
        losses["total"] = torch.stack(list(losses.values())).sum()
        return losses

    def _task_losses(self, logits, labels, sample_weights) -> dict[str, torch.Tensor]:
        losses = {}
        for t in self.tasks:
            out = logits[t.name]
            if t.kind == "multiclass":
                loss = multiclass_ce(out, labels[t.name], labels.get(f"{t.name}_soft"), sample_weights.get(t.name),
                                     self.label_smoothing)
            elif t.kind == "multilabel":
                loss = masked_bce(out, labels[t.name], sample_weights.get(t.name))
            else:
                loss = ccc_loss(out, labels[t.name]) if t.loss == "ccc" else mse_loss(out, labels[t.name])
            losses[t.name] = loss * t.weight
        return losses

    @staticmethod
    def _coupling_losses(c: CouplingTerm, rel: torch.Tensor, logits, given) -> dict[str, torch.Tensor]:
        losses = {}
        sca, dm = c.soft_coannotation, c.distribution_matching
        if sca is not None:
            w = rel if sca.weighting == "weighted" else _binary(rel)
            losses[f"sca:{c.name}"] = sca.weight * soft_coannotation(
                logits[c.multiclass], given[c.multilabel], w, sca.form, sca.neutral, sca.temperature)
        if dm is not None:
            r = rel if dm.relatedness_mode == "weighted" else _binary(rel)
            losses[f"dm:{c.name}"] = dm.weight * distribution_matching(
                logits[c.multiclass], logits[c.multilabel], r, dm.form, dm.grad_to, dm.unlinked)
        return losses
