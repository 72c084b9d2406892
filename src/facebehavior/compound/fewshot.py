"""Few-shot compound expressions: a new head on a trained network, fine-tuned on k examples per class.

The network's output layer is replaced by one for the compound classes (`MultiTaskNet.replace_head`);
the rest starts from the checkpoint (or, for the from-scratch baseline, from random weights).
`freeze` chooses what trains: ``none`` (everything), ``backbone`` (the head only; the backbone's
batch-norm statistics stay fixed too) or ``all_but_last_stage`` (the fbn backbone's last stage
and the head). A fine-tuned checkpoint declares the compound task in its config, so
`facebehavior.models.checkpoint.load_model` rebuilds it.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from facebehavior import atomic
from facebehavior.config import AugmentConfig
from facebehavior.errors import ConfigError, FaceBehaviorError

FREEZE_MODES = ("none", "backbone", "all_but_last_stage")
TASK = "compound"


@dataclass
class FinetuneSettings:
    """The fine-tuning recipe. Training runs `epochs` passes over the k-shot set, and at least
    `min_steps` optimiser steps (so that k = 1 still gets a useful number of updates)."""

    freeze: str = "none"
    epochs: int = 30
    min_steps: int = 50
    batch_size: int = 32
    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    augment: AugmentConfig = field(default_factory=lambda: AugmentConfig(rotate_deg=8.0))
    device: str = "cpu"
    eval_batch_size: int = 256

    def __post_init__(self):
        if self.freeze not in FREEZE_MODES:
            raise ConfigError(f"freeze {self.freeze!r}: use one of {FREEZE_MODES}")
        if self.epochs < 1 or self.batch_size < 1 or self.min_steps < 0:
            raise ConfigError("fine-tuning needs epochs >= 1, batch_size >= 1 and min_steps >= 0")


def sample_k_shot(targets, k: int | None, seed: int, num_classes: int | None = None) -> np.ndarray:
    """Row indices with exactly `k` rows of every class (all rows when `k` is None), sorted.

    The choice depends only on (targets, k, seed). A class with fewer than k rows is an error:
    k-shot means k of every class.
    """
    targets = np.asarray(targets, dtype=np.int64)
    num_classes = num_classes or int(targets.max()) + 1
    if k is None:
        return np.flatnonzero(targets >= 0)
    if k < 1:
        raise ConfigError(f"shots must be >= 1 (or 'all'), got {k}")
    rng = np.random.default_rng(seed)
    chosen = []
    for c in range(num_classes):
        rows = np.flatnonzero(targets == c)
        if len(rows) < k:
            raise FaceBehaviorError(f"class {c} has {len(rows)} training row(s); {k}-shot needs {k} of every class "
                                    "(use fewer shots or 'all')")
        chosen.append(rng.choice(rows, size=k, replace=False))
    return np.sort(np.concatenate(chosen))


def apply_freeze(model, mode: str) -> list:
    """Switch off gradients of the frozen part; return its modules (kept in eval mode while training)."""
    if mode not in FREEZE_MODES:
        raise ConfigError(f"freeze {mode!r}: use one of {FREEZE_MODES}")
    backbone = model.backbone
    if mode == "none":
        frozen = []
    elif mode == "backbone":
        frozen = [backbone]
    else:
        stages = getattr(backbone, "stages", None)
        if stages is None or not hasattr(backbone, "stem"):
            raise ConfigError("freeze 'all_but_last_stage' is defined for the fbn backbone (stem + stages); this "
                              f"checkpoint's backbone is {type(backbone).__name__} (timm). Use --freeze backbone "
                              "(train the head only) or --freeze none")
        frozen = [backbone.stem, *list(stages)[:-1]]
    for module in frozen:
        for p in module.parameters():
            p.requires_grad_(False)
    return frozen


def _train_mode(model, frozen: list) -> None:
    model.train()
    for module in frozen:  # frozen batch-norm layers keep their running statistics
        module.eval()


def build_compound_model(checkpoint, class_names, freeze: str = "none", scratch: bool = False, seed: int = 0):
    """(model, frozen modules, base config) with a fresh compound head on the checkpoint's network.

    `scratch`: the same architecture with random weights (the from-scratch baseline).
    """
    import torch

    from facebehavior.labels import TaskSpec
    from facebehavior.models import build_model
    from facebehavior.models.checkpoint import load_model

    model, _, cfg = load_model(checkpoint)
    task = TaskSpec(TASK, "multiclass", tuple(class_names))
    torch.manual_seed(seed)  # the new head (and a scratch network) start from seed-determined weights
    if scratch:
        model = build_model(cfg.model, [task])
    else:
        model.replace_head([task])
    frozen = apply_freeze(model, freeze)
    return model, frozen, cfg


def finetune(model, frozen: list, images, targets, settings: FinetuneSettings, seed: int = 0) -> list[float]:
    """Cross-entropy training of the compound head (and unfrozen layers); returns the loss per step.

    `images`: uint8 (N, 3, S, S); `targets`: int64 (N,). Each epoch is a seeded permutation split into
    near-equal batches (never a batch of one); augmentation is seeded by (seed, step).
    """
    import torch
    import torch.nn.functional as F

    from facebehavior.config import TrainConfig
    from facebehavior.data.transforms import make_generator, training_input
    from facebehavior.training.optim import build_optimizer

    device = torch.device(settings.device)
    model.to(device)
    optimizer = build_optimizer(TrainConfig(optimizer=settings.optimizer, lr=settings.lr,
                                            weight_decay=settings.weight_decay), model)
    n = len(targets)
    per_epoch = math.ceil(n / settings.batch_size)
    total = max(settings.epochs * per_epoch, settings.min_steps)
    order = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    _train_mode(model, frozen)
    batches: list = []
    for step in range(total):
        if not batches:
            batches = list(torch.randperm(n, generator=order).tensor_split(per_epoch))
        idx = batches.pop(0)
        x = training_input(images[idx].to(device), settings.augment, make_generator(seed, step))  # the trainer's path
        loss = F.cross_entropy(model(x)[TASK], targets[idx].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        if not math.isfinite(losses[-1]):
            raise FaceBehaviorError(f"fine-tuning loss became {losses[-1]} at step {step}; lower the learning rate")
    model.eval()
    return losses


def finetuned_config(base_cfg, class_names, manifests, settings: FinetuneSettings) -> dict:
    """The base config with the compound task as the only task (and no couplings), so that
    `load_model` rebuilds the fine-tuned network."""
    cfg = base_cfg.to_dict()
    cfg["name"] = f"{base_cfg.name}_compound"
    cfg["tasks"] = [{"name": TASK, "kind": "multiclass", "labels": list(class_names), "loss": "", "weight": 1.0,
                     "range": None}]
    cfg["coupling"] = []
    cfg["data"]["train"] = [str(m) for m in manifests]
    cfg["data"]["test"] = [str(m) for m in manifests]
    cfg["model"]["pretrained"], cfg["model"]["pretrained_path"] = False, None
    cfg["train"].update(optimizer=settings.optimizer, lr=settings.lr, weight_decay=settings.weight_decay,
                        epochs=settings.epochs)
    return cfg


def _summary(runs: list[dict]) -> dict:
    """Mean and sample standard deviation over seeds of each headline metric."""
    out = {}
    for k in ("mean_diag", "macro_f1", "uar", "accuracy"):
        values = [r["metrics"][k] for r in runs]
        out[k] = {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0}
    return out


def _save_seed(out: Path, model, base_cfg, cs, paths, settings, shots, scores: dict, test_counts: dict) -> str:
    from facebehavior.compound.evaluate import write_compound_report
    from facebehavior.models.checkpoint import CheckpointMeta, save_checkpoint

    meta = CheckpointMeta(config=finetuned_config(base_cfg, cs.names, paths, settings),
                          tasks=[{"name": TASK, "kind": "multiclass", "labels": list(cs.names)}], trained_tasks=[TASK],
                          scores={"test": {k: scores[k] for k in ("mean_diag", "macro_f1", "accuracy")}})
    path = save_checkpoint(out / "checkpoint", model, meta)
    write_compound_report(out, f"few-shot compound ({shots or 'all'}-shot)",
                          {"classes": list(cs.names), "rows": test_counts, "metrics": scores})
    return str(path)


def run_finetune(checkpoint, manifests, classes="rafdb", label_space: str | None = None, shots: int | None = 5,
                 seeds=(0,), settings: FinetuneSettings | None = None, out_dir=None, scratch: bool = False,
                 root: str | None = None, save_checkpoints: bool = True, say=None) -> dict:
    """Fine-tune (or train from scratch) one model per seed on k-shot samples of the train split and
    evaluate each on the test split. Writes ``finetune.json`` (and per seed a checkpoint and a
    report) under `out_dir`; returns the results dict."""
    import torch

    from facebehavior.compound.classes import default_label_space, label_space as get_space, resolve_classes
    from facebehavior.compound.evaluate import candidate_classes, compound_metrics, load_compound_rows, model_outputs
    from facebehavior.evaluation.report import to_jsonable

    settings = settings or FinetuneSettings()
    space = get_space(label_space or default_label_space(classes))
    paths = [str(m) for m in ([manifests] if isinstance(manifests, (str, Path)) else manifests)]
    cs, notes = candidate_classes(resolve_classes(classes), space, paths, root)
    train_rows = load_compound_rows(paths, space, cs, "train", root)
    test_rows = load_compound_rows(paths, space, cs, "test", root)
    missing = [n for i, n in enumerate(cs.names) if not (train_rows.targets == i).any()]
    if missing:
        raise FaceBehaviorError(f"classes {missing} have no training rows in {paths}; drop them from --classes")
    out = Path(out_dir) if out_dir else None
    runs, train_images, test_table = [], None, None
    for seed in seeds:
        t0 = time.time()
        model, frozen, base_cfg = build_compound_model(checkpoint, cs.names, settings.freeze, scratch, seed)
        if test_table is None:  # decoded once, shared by every seed
            train_images = train_rows.table(base_cfg.data.image_size, cache=True).cache
            test_table = test_rows.table(base_cfg.data.image_size, cache=True)
        pick = sample_k_shot(train_rows.targets, shots, seed, len(cs))
        losses = finetune(model, frozen, train_images[pick], torch.as_tensor(train_rows.targets[pick]), settings,
                          seed)
        probs = model_outputs(model, test_table, [cs.task(TASK)], settings.device, settings.eval_batch_size)[TASK]
        scores = compound_metrics(test_rows.targets, probs, cs.names)
        run = {"seed": seed, "n_train": int(len(pick)), "steps": len(losses), "final_loss": losses[-1],
               "seconds": round(time.time() - t0, 1), "metrics": scores,
               "train_paths": train_rows.manifest.frame["path"].to_numpy()[pick].tolist()}
        if out is not None and save_checkpoints:
            run["checkpoint"] = _save_seed(out / f"seed{seed}", model, base_cfg, cs, paths, settings, shots, scores,
                                           test_rows.counts)
        runs.append(run)
        if say:
            say(f"seed {seed}: {len(pick)} training images, {len(losses)} steps, "
                f"test mean diag {scores['mean_diag']:.3f} ({run['seconds']} s)")
    result = {"method": "scratch" if scratch else "fine-tune", "checkpoint": str(checkpoint), "classes": list(cs.names),
              "label_space": space.name, "notes": notes, "shots": shots, "seeds": list(seeds),
              "settings": asdict(settings),
              "train_rows": train_rows.counts, "test_rows": test_rows.counts, "summary": _summary(runs), "runs": runs}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        atomic.write_text(out / "finetune.json", json.dumps(to_jsonable(result), indent=1, allow_nan=False) + "\n")
    return result
