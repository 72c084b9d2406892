"""Per-task losses over the samples that carry each task (eq. 2 and 9).

Missing labels are encoded as in `facebehavior.data.manifest.encode_labels`: a class index of -1,
a soft-label row of NaN, a multi-label or regression entry of NaN. A batch with no labelled
sample for a task contributes an exact zero that still belongs to the graph.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_EPS = 1e-8


def _zero(like: torch.Tensor) -> torch.Tensor:
    return like.sum() * 0.0


def multiclass_ce(logits: torch.Tensor, hard: torch.Tensor, soft: torch.Tensor | None = None,
                  weights: torch.Tensor | None = None, smoothing: float = 0.0) -> torch.Tensor:
    """Cross entropy with hard targets (index, -1 = none) or soft targets (rows of NaN = none).

    A sample with a soft label uses it (−Σ p log q); otherwise its hard label. `weights` (N,), default
    1, scales each sample's term (co-annotated classes count the co-annotation weight); a sample of
    weight 0 is not labelled. Mean over the labelled samples. `smoothing` ε (label smoothing, Szegedy
    et al. 2016) mixes every target with the uniform distribution: (1 − ε)·target + ε/K.
    """
    log_q = F.log_softmax(logits.float(), dim=1)
    has_soft = torch.zeros_like(hard, dtype=torch.bool) if soft is None else ~torch.isnan(soft).any(1)
    has_hard = (hard >= 0) & ~has_soft
    w = torch.ones_like(log_q[:, 0]) if weights is None else weights.to(log_q.dtype)
    n = ((has_soft | has_hard) & (w > 0)).sum()
    if n == 0:
        return _zero(logits)
    hard_term = -log_q.gather(1, hard.clamp(min=0)[:, None]).squeeze(1) * has_hard
    soft_term = 0.0
    if soft is not None:
        soft_term = -(torch.nan_to_num(soft) * log_q).sum(1) * has_soft
    per_sample = hard_term + soft_term
    if smoothing > 0:  # the uniform target's cross entropy, −mean_k log q_k, on the labelled samples
        per_sample = (1 - smoothing) * per_sample - smoothing * log_q.mean(1) * (has_soft | has_hard)
    return (per_sample * w).sum() / n


def masked_bce(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Binary cross entropy over annotated labels only (the δ mask of eq. 2).

    Per sample: Σ_i δ_i w_i BCE_i / Σ_i δ_i; then the mean over samples with any annotation.
    `weights` (default 1) lets co-annotated labels count w < 1 (observational links, the
    co-annotation weight); an entry of weight 0 is not a label, so it leaves both sums.
    """
    mask = ~torch.isnan(targets)
    if weights is not None:
        mask = mask & (weights > 0)
    per = F.binary_cross_entropy_with_logits(logits.float(), torch.nan_to_num(targets), reduction="none")
    w = mask.float() if weights is None else mask.float() * weights
    counts = mask.sum(1)
    has = counts > 0
    if not has.any():
        return _zero(logits)
    per_sample = (per * w).sum(1) / counts.clamp(min=1)
    return per_sample[has].mean()


def ccc(pred: torch.Tensor, target: torch.Tensor, eps: float = _EPS) -> torch.Tensor:
    """Concordance correlation coefficient over dim 0, per column (1-D inputs give a scalar).

    ρ = 2 cov / (var_p + var_t + (μ_p − μ_t)²), population moments. `eps` keeps a batch with
    zero variance finite (ρ → 0 rather than NaN).
    """
    pred, target = pred.float(), target.float()
    mp, mt = pred.mean(0), target.mean(0)
    vp, vt = pred.var(0, unbiased=False), target.var(0, unbiased=False)
    cov = ((pred - mp) * (target - mt)).mean(0)
    return 2 * cov / (vp + vt + (mp - mt) ** 2 + eps)


def ccc_loss(pred: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """1 − CCC per dimension, averaged over dimensions with at least two labelled samples."""
    losses = []
    for j in range(targets.shape[1]):  # 2 dimensions (V, A): not a per-sample loop
        keep = ~torch.isnan(targets[:, j])
        if keep.sum() >= 2:
            losses.append(1 - ccc(pred[keep, j], targets[keep, j]))
    return torch.stack(losses).mean() if losses else _zero(pred)


def mse_loss(pred: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared error over labelled entries."""
    keep = ~torch.isnan(targets)
    if not keep.any():
        return _zero(pred)
    return ((pred.float() - torch.nan_to_num(targets)) ** 2)[keep].mean()
