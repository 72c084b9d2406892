"""Compound expressions: zero-shot scores from a trained network (eq. 8) and few-shot fine-tuning.

    from facebehavior.compound import zero_shot_scores, explain, compound_columns
    scores, evidence = zero_shot_scores({"expr": p_expr, "au": p_au, "va": va}, classes="rafdb")

Names are imported on first use, so importing the package does not import torch.
"""

from __future__ import annotations

from facebehavior.lazy import lazy_exports

_EXPORTS = {
    "ClassSet": "classes", "LabelSpace": "classes", "resolve_classes": "classes", "label_space": "classes",
    "zero_shot_scores": "zeroshot", "predict_compound": "zeroshot", "explain": "zeroshot",
    "compound_columns": "zeroshot", "ZeroShotEvidence": "zeroshot",
    "evaluate_zero_shot": "evaluate", "compound_metrics": "evaluate", "load_compound_rows": "evaluate",
    "sample_k_shot": "fewshot", "apply_freeze": "fewshot", "run_finetune": "fewshot",
    "FinetuneSettings": "fewshot",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, globals())
