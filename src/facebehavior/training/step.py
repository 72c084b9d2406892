"""One optimisation step: the training loop's body, shared by the trainer and benchmarks/bench_step.py.

The benchmark times this very function (through `mark`), so what it reports is the trainer's step,
not a copy of it kept in sync by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch

from facebehavior.data.transforms import make_generator, training_input
from facebehavior.errors import FaceBehaviorError

PHASES = ("augment", "labels", "forward", "losses", "backward", "optimizer", "check")


@dataclass
class StepParts:
    """What every step uses, built once before the loop."""

    cfg: Any  # ExperimentConfig
    net: torch.nn.Module  # the model, or its DistributedDataParallel wrapper
    model: torch.nn.Module  # the unwrapped model (gradient clipping)
    objective: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    autocast: Any  # a context manager: torch.autocast or a null context
    device: torch.device
    memory_format: torch.memory_format
    table: Any  # the training ImageTable: batch_labels(idx)


@dataclass
class StepOutput:
    losses: dict
    x: torch.Tensor  # the augmented model input
    logits: dict
    labels: dict


def _no_mark(phase: str) -> None:
    pass


def optimisation_step(parts: StepParts, images: torch.Tensor, idx: torch.Tensor, global_step: int,
                      mark: Callable[[str], None] = _no_mark) -> StepOutput:
    """Augment, forward, named losses, backward on their sum, optimiser and scheduler step.

    `global_step` counts the steps already taken; `mark(phase)` is called as each of PHASES ends.
    Raises FaceBehaviorError when the loss is not finite.
    """
    cfg = parts.cfg
    # Seeds derived from the step: augmentation and dropout replay exactly after a resume.
    torch.manual_seed(cfg.train.seed * 7919 + global_step)
    # uint8 to the device (a quarter of the bytes of floats), augmented there: on a GPU the warp and
    # jitter leave the CPU; the random draws stay on the CPU
    images = images.to(parts.device, non_blocking=True)
    x = training_input(images, cfg.data.augment, make_generator(cfg.train.seed, global_step), parts.memory_format)
    mark("augment")
    labels = {k: v.to(parts.device, non_blocking=True) for k, v in parts.table.batch_labels(idx).items()}
    mark("labels")
    with parts.autocast:
        logits = parts.net(x)
    mark("forward")
    losses = parts.objective(logits, labels)
    mark("losses")
    parts.optimizer.zero_grad(set_to_none=True)
    parts.scaler.scale(losses["total"]).backward()
    mark("backward")
    if cfg.train.grad_clip > 0:
        parts.scaler.unscale_(parts.optimizer)
        torch.nn.utils.clip_grad_norm_(parts.model.parameters(), cfg.train.grad_clip)
    parts.scaler.step(parts.optimizer)
    parts.scaler.update()
    parts.scheduler.step()
    mark("optimizer")
    total = losses["total"].item()
    if not math.isfinite(total):
        raise FaceBehaviorError(f"loss became {total} at step {global_step + 1}; "
                                "lower train.lr or enable train.grad_clip")
    mark("check")
    return StepOutput(losses, x, logits, labels)
