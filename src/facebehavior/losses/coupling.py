"""Coupling a softmax task A with a multi-label task B through a relatedness matrix R (A × B).

Nothing here knows about faces: A may be 7 expressions and B 17 AUs (section 3.1.2), or 10,177
identities and 40 attributes (section 3.2.2). R[a, b] is p(b | a): 1 for a prototypical link, w for
an observational one (or 1 for any link in the binary form), 0 for none. Missing B labels are NaN,
a missing A label is -1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_CLAMP = 1e-6


def linked_columns(relatedness: torch.Tensor) -> torch.Tensor:
    """(B,) bool: the B labels that at least one A class links to (a non-zero column of R)."""
    return (relatedness != 0).any(0)


def distribution_matching(logits_a: torch.Tensor, logits_b: torch.Tensor, relatedness: torch.Tensor,
                          form: str = "bernoulli", grad_to: str = "multiclass", unlinked: str = "drop") -> torch.Tensor:
    """Eq. 3–4 (and 10–11): match p(b|x) to q(b|x) = Σ_a p(a|x) R[a, b], on every sample.

    `form="paper"`: Σ_b −p_b log q_b, as written; `form="bernoulli"`: the full binary cross entropy
    −[p log q + (1 − p) log(1 − q)]. `grad_to` chooses who learns: `multiclass` (p is a fixed
    teacher: the B predictions teach A), `both`, or `multilabel` (q is a fixed teacher).
    `unlinked="drop"` leaves out every B label no A class links to: its q is 0 whatever A predicts,
    so the term would only push that label's p towards 0 (13.8 per unit of p after the clamp), on
    every sample; `"keep"` sums over all B labels. Eq. 4 as written is paper / both / keep. The
    defaults (bernoulli / multiclass / drop) never lower a B prediction and teach A the mixture
    that matches the B predictions; docs/coupling.md works out what minimises each variant and
    why. One matmul for the whole batch.
    """
    if unlinked == "drop":
        keep = linked_columns(relatedness)
        if not keep.all():  # a fully linked R (e.g. CelebA's 10,177 × 40) is used without a copy
            logits_b, relatedness = logits_b[:, keep], relatedness[:, keep]
    elif unlinked != "keep":
        raise ValueError(f"unlinked {unlinked!r}: use drop or keep")
    p_a = F.softmax(logits_a.float(), dim=1)
    p_b = torch.sigmoid(logits_b.float())
    q_b = (p_a @ relatedness.to(p_a.dtype)).clamp(_CLAMP, 1 - _CLAMP)
    if grad_to == "multilabel":
        q_b = q_b.detach()
    elif grad_to == "multiclass":
        p_b = p_b.detach()
    elif grad_to != "both":
        raise ValueError(f"grad_to {grad_to!r}: use both, multiclass or multilabel")
    if form == "paper":
        per = -p_b * torch.log(q_b)
    elif form == "bernoulli":
        per = -(p_b * torch.log(q_b) + (1 - p_b) * torch.log1p(-q_b))
    else:
        raise ValueError(f"form {form!r}: use paper or bernoulli")
    return per.sum(1).mean()


def indicator_scores(labels_b: torch.Tensor, weights: torch.Tensor, neutral: str = "zero") -> torch.Tensor:
    """Eq. 5: I(a|x) = Σ_b w_ab y_b / Σ_b w_ab over the B labels annotated for x.

    Unannotated labels (NaN) leave both sums, so a database that does not code an AU is neither
    rewarded nor penalised for it. A class with no annotated linked label scores 0; a class with
    no linked label at all (neutral) scores 0 (`neutral="zero"`, eq. 5 as written) or
    1 − max_a I(a) (`neutral="complement"`: neutral is likely when no emotion's AUs are on).
    """
    annotated = (~torch.isnan(labels_b)).to(weights.dtype)
    y = torch.nan_to_num(labels_b).to(weights.dtype)
    num = y @ weights.T
    den = annotated @ weights.T
    scores = torch.where(den > 0, num / den.clamp(min=1e-12), torch.zeros_like(num))
    if neutral == "complement":
        unlinked = weights.sum(1) == 0
        if unlinked.any():
            linked_max = scores[:, ~unlinked].max(1).values if (~unlinked).any() else torch.zeros_like(scores[:, 0])
            scores = torch.where(unlinked[None, :], (1 - linked_max)[:, None], scores)
    elif neutral != "zero":
        raise ValueError(f"neutral {neutral!r}: use zero or complement")
    return scores


def soft_coannotation_target(labels_b: torch.Tensor, weights: torch.Tensor, neutral: str = "zero",
                             temperature: float = 1.0) -> torch.Tensor:
    """Eq. 6: the soft A-label q(a|x) = softmax_a(I(a|x) / T); T = 1 is the paper's.

    I lies in [0, 1], so at T = 1 no class can get more than e / (e + A − 1) (0.31 for 7 classes):
    the targets are nearly uniform. A smaller T sharpens them towards the arg-max of I.
    """
    if not temperature > 0:
        raise ValueError(f"temperature {temperature!r}: must be > 0")
    return F.softmax(indicator_scores(labels_b, weights, neutral) / temperature, dim=1)


def soft_coannotation(logits_a: torch.Tensor, labels_b: torch.Tensor, weights: torch.Tensor,
                      form: str = "paper", neutral: str = "zero", temperature: float = 1.0) -> torch.Tensor:
    """Eq. 7 on samples that carry any B label.

    `form="paper"`: Σ_a −p(a|x) log q(a|x), as written (p is the prediction, q the soft label). It is
    linear in p, so its minimum is p = one-hot at arg-max q however flat q is; since Σ_a p = 1 it
    equals −Σ_a p(a|x) I(a|x) / T + const: T only rescales it. `form="kl"`: KL(q‖p), the
    conventional distillation direction, minimised at p = q, so T sets how sharp a p it asks for.
    """
    has = ~torch.isnan(labels_b).all(1)
    if not has.any():
        return logits_a.sum() * 0.0
    q = soft_coannotation_target(labels_b[has], weights, neutral, temperature)
    log_p = F.log_softmax(logits_a[has].float(), dim=1)
    if form == "paper":
        per = -(log_p.exp() * torch.log(q.clamp(min=_CLAMP))).sum(1)
    elif form == "kl":
        per = (q * (torch.log(q.clamp(min=_CLAMP)) - log_p)).sum(1)
    else:
        raise ValueError(f"form {form!r}: use paper or kl")
    return per.mean()


def coannotate(hard_a: torch.Tensor, labels_b: torch.Tensor, weights: torch.Tensor,
               observational: str = "weighted") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Co-annotation (section 3.1.2), vectorised over the batch.

    A → B: a sample of class a gets y_b = 1 for every B label linked to a that it lacks; those
    entries weigh R[a, b] in the loss (`observational="weighted"`) or 1 (`"binary"`). Other B labels
    stay unannotated. B → A: a sample without a class gets class a when all of a's linked labels
    that are annotated are on (at least one annotated), ties going to the class with the largest
    requirement (most linked labels checked). Returns (hard_a', labels_b', weights_b').
    """
    linked = (weights > 0).to(weights.dtype)
    annotated = ~torch.isnan(labels_b)
    new_b = labels_b.clone()
    b_weights = torch.ones_like(labels_b)

    has_a = hard_a >= 0
    rows = linked[hard_a.clamp(min=0)] * has_a[:, None]  # (N, B) links of each sample's class
    fill = (rows > 0) & ~annotated
    new_b = torch.where(fill, torch.ones_like(new_b), new_b)
    if observational == "weighted":
        b_weights = torch.where(fill, weights[hard_a.clamp(min=0)].to(new_b.dtype), b_weights)

    on = (annotated & (torch.nan_to_num(labels_b) > 0.5)).to(weights.dtype)
    required = annotated.to(weights.dtype) @ linked.T  # (N, A)
    satisfied = (on @ linked.T == required) & (required > 0)
    score = torch.where(satisfied, required, torch.full_like(required, -1.0))
    best = score.argmax(1)
    assign = ~has_a & satisfied.any(1)
    new_a = torch.where(assign, best, hard_a)
    return new_a, new_b, b_weights
