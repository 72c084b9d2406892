"""The one tiny training config every test that trains starts from (seconds on a CPU)."""

from __future__ import annotations

AFFECT_TASKS = [
    {"name": "expr", "kind": "multiclass", "labels": "@expressions"},
    {"name": "au", "kind": "multilabel", "labels": "@aus"},
    {"name": "va", "kind": "regression", "labels": "@va", "range": [-1, 1]},
]
COUPLED = [{"multiclass": "expr", "multilabel": "au", "relatedness": "du2014",
            "soft_coannotation": {"enabled": True}, "distribution_matching": {"enabled": True}}]


def tiny_config(manifests, out_dir, *, name: str = "tiny", image_size: int = 32, widths=(8, 16, 16, 16),
                coupling: bool = True, **train) -> dict:
    """Expressions, AUs and valence/arousal on `manifests` (a path or a list) with a tiny fbn;
    soft co-annotation + distribution matching when `coupling`; `train` overrides train.*."""
    manifests = [str(m) for m in (manifests if isinstance(manifests, (list, tuple)) else [manifests])]
    return {
        "name": name,
        "out_dir": str(out_dir),
        "tasks": [dict(t) for t in AFFECT_TASKS],
        "data": {"train": manifests, "image_size": image_size, "batch_size": 30, "num_workers": 0,
                 "cache": "memory"},
        "model": {"backbone": "fbn", "preset": "tiny", "widths": list(widths)},
        "coupling": [dict(c) for c in COUPLED] if coupling else [],
        "train": {"epochs": 2, "lr": 0.01, "progress": False, "log_every": 1, "threads": 1, **train},
    }
