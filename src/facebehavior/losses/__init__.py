"""Task losses (eq. 2, 9) and coupling losses (eq. 3–7, 11), on plain tensors."""

from facebehavior.losses.coupling import (
    coannotate,
    distribution_matching,
    indicator_scores,
    soft_coannotation,
    soft_coannotation_target,
)
from facebehavior.losses.tasks import ccc, ccc_loss, masked_bce, multiclass_ce

__all__ = [
    "ccc",
    "ccc_loss",
    "coannotate",
    "distribution_matching",
    "indicator_scores",
    "masked_bce",
    "multiclass_ce",
    "soft_coannotation",
    "soft_coannotation_target",
]
