"""Task balancing for partially labelled batches (`train.balancing`): uncertainty weighting and PCGrad.

Both see only the tasks a batch labels (`MultiTaskObjective(..., present=...)`): a task absent from
a batch has no loss, takes no part and moves nothing, its balancing weight included.

**uncertainty** (Kendall, Gal & Cipolla, CVPR 2018, "Multi-task learning using uncertainty to
weigh losses"): one learnable log-variance s_t per task and

    total = Σ_{t present} exp(−s_t) · L_t + s_t   (+ the coupling terms, unweighted)

for every task kind alike. This is Kendall's regression form ½·exp(−s)·L + ½·s times 2; his
classification form exp(−s)·L + ½·s is not used, so that every task's weight settles where the
form is smallest, exp(−s_t) = 1 / L_t, whatever its kind (for an MSE task at noise σ², L_t → σ²
and the weight → 1/σ²). L_t is the task's loss times its `weight` (λ_t), so the balanced weight
undoes λ_t at that optimum; a task of weight 0 is left out. Each s_t is its own scalar parameter:
an absent task's s_t gets no gradient (grad None, not 0), which SGD (momentum included), Adam and
AdamW skip entirely, and the log-variances sit in their own parameter group without weight decay
(training/step.py), so an absent task's weight stays exactly where it was.

**pcgrad** (Yu et al., NeurIPS 2020, "Gradient Surgery for Multi-Task Learning", Algorithm 1),
through the maintained `torchjd` package (`mtl_backward` + its `PCGrad` aggregator): the gradient of
each objective (each present task's loss, and each coupling term) on the shared parameters (batched
with torch.vmap, which saves calls, not arithmetic: about one plain backward per objective, measured
in docs/coupling.md); each is projected off the others'
conflicting components (g_i ← g_i − (g_i·g_j / |g_j|²) g_j whenever g_i·g_j < 0, the others in
random order) and the results are summed. The head's parameters are task-specific: every task's rows
get its own task's gradient, unprojected.
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

METHODS = ("none", "uncertainty", "pcgrad")


class UncertaintyWeighting(nn.Module):
    """One log-variance s_t per task (start 0: weight 1); `forward` gives the balanced total."""

    def __init__(self, task_names: Iterable[str]):
        super().__init__()
        self.task_names = list(task_names)
        # one scalar parameter per task, not one vector: an absent task's entry must get grad None
        self.log_vars = nn.ParameterList([nn.Parameter(torch.zeros(())) for _ in self.task_names])

    def log_var(self, task: str) -> nn.Parameter:
        return self.log_vars[self.task_names.index(task)]

    def weights(self) -> dict[str, float]:
        """exp(−s_t) per task, as they are now."""
        return {t: float(torch.exp(-s.detach())) for t, s in zip(self.task_names, self.log_vars)}

    def forward(self, losses: dict[str, torch.Tensor], present: dict[str, bool]) -> torch.Tensor:
        """Σ_{t present} exp(−s_t) L_t + s_t plus every other (coupling) entry of `losses` but `total`."""
        terms = []
        for task, s in zip(self.task_names, self.log_vars):
            if present.get(task, False):
                terms.append(torch.exp(-s) * losses[task] + s)
        terms += [v for k, v in losses.items() if k != "total" and k not in self.task_names]
        if not terms:
            return losses["total"]
        return torch.stack([t.float() for t in terms]).sum()


def objectives(losses: dict[str, torch.Tensor], present: dict[str, bool]) -> dict[str, torch.Tensor]:
    """What gradient surgery balances: each present task's loss and each coupling term, by name."""
    return {k: v for k, v in losses.items() if k != "total" and present.get(k, k not in present)}


def pcgrad_backward(terms: dict[str, torch.Tensor], features: list[torch.Tensor],
                    params: Iterable[torch.Tensor], order_seed: int = 0,
                    distributed: bool = False, batched: bool = True) -> dict[str, float]:
    """PCGrad's gradient of `terms` (name → scalar loss) into the `.grad` of `params`.

    `features`: the last shared representation(s) (the head's input): parameters reached through
    them are shared and get the surgery's combined gradient; the others (the head) get the plain sum
    of the terms' gradients, i.e. each task's rows their own task's gradient. The random order of the
    projections is drawn from `order_seed` (the same on every DDP rank). With `distributed` (terms
    computed on the gathered global batch, the model's forward run outside DDP's gradient sync), each
    rank's share of every term's gradient is averaged over the ranks before the surgery, as DDP
    averages a plain gradient. `batched`: differentiate the terms together through torch.vmap
    (False: one after another, as under DDP; vmap fails on a bf16/fp16 autocast graph). Returns each term's weight in the combined shared gradient (1 each
    when nothing conflicts).
    """
    from torchjd.aggregation import PCGrad
    from torchjd.autojac import jac_to_grad, mtl_backward

    params = list(params)
    names = list(terms)
    if len(names) == 1:  # nothing to project against: plain backward
        terms[names[0]].backward()
        _average_over_ranks(params, distributed)
        return {names[0]: 1.0}
    # retain_graph: the tasks share one head layer (its rows), which torchjd would otherwise free.
    # Under DDP the backward crosses collectives (the gathered logits), which vmap cannot batch.
    mtl_backward([terms[n] for n in names], features=features, retain_graph=True,
                 parallel_chunk_size=None if batched and not distributed else 1)
    _average_over_ranks(params, distributed)
    shared = [p for p in params if hasattr(p, "jac")]
    with torch.random.fork_rng(devices=[]):  # torchjd's PCGrad draws its orders from the CPU generator
        torch.manual_seed(order_seed)
        weights = jac_to_grad(shared, PCGrad())
    return {n: float(w) for n, w in zip(names, weights.tolist())}


def _average_over_ranks(params: list[torch.Tensor], distributed: bool) -> None:
    if not distributed:
        return
    import torch.distributed as dist

    world = dist.get_world_size()
    for p in params:
        for value in (getattr(p, "jac", None), p.grad):
            if value is not None:
                dist.all_reduce(value)
                value.div_(world)
