"""Optimiser and learning-rate schedule from config (paper default: SGD, momentum 0.9, lr 1e-4)."""

from __future__ import annotations

import math

import torch


def build_optimizer(train_cfg, model: torch.nn.Module) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if train_cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=train_cfg.lr, momentum=train_cfg.momentum,
                               weight_decay=train_cfg.weight_decay)
    cls = torch.optim.AdamW if train_cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=train_cfg.lr, weight_decay=train_cfg.weight_decay)


def build_scheduler(train_cfg, optimizer, total_steps: int):
    """Per-step LambdaLR: linear warm-up, then constant, cosine to zero, or step decay (per epoch
    of `step_size` steps)."""
    warm = max(0, train_cfg.warmup_steps)

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        if train_cfg.schedule == "cosine":
            progress = (step - warm) / max(1, total_steps - warm)
            return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        if train_cfg.schedule == "step":
            return train_cfg.gamma ** ((step - warm) // max(1, train_cfg.step_size))
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
