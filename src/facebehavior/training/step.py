"""One optimisation step: the training loop's body and what it needs, shared by the trainer and
benchmarks/bench_step.py.

The benchmark builds its parts with `build_step_parts` and times `optimisation_step` itself
(through `mark`), so what it reports is the trainer's step, not a copy kept in sync by hand.
"""

from __future__ import annotations

import contextlib
import math
import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import torch

from facebehavior.data.transforms import make_generator, training_input
from facebehavior.errors import ConfigError, FaceBehaviorError
from facebehavior.losses.balancing import UncertaintyWeighting, objectives, pcgrad_backward
from facebehavior.losses.objective import MultiTaskObjective
from facebehavior.models import build_model
from facebehavior.models.multitask import MultiTaskNet
from facebehavior.models.preprocessing import resolve_preprocessing
from facebehavior.training.distributed import gather_global_batch, global_batchnorm
from facebehavior.training.mixup import draw_lambda, mix_inputs, mixed_losses, partners
from facebehavior.training.optim import build_optimizer, build_scheduler

PHASES = ("augment", "labels", "forward", "losses", "backward", "optimizer", "check")
_MIXUP_STREAM = 7_777_777  # mixup's random draws: a generator apart from augmentation's


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
    amp_dtype: torch.dtype | None  # autocast's dtype, None without AMP (validation uses it too)
    device: torch.device
    memory_format: torch.memory_format
    table: Any  # the training ImageTable: batch_labels(idx)
    ema: Any = None  # torch.optim.swa_utils.AveragedModel of `model` when train.ema_decay > 0
    distributed: bool = False  # under DDP: the objective is computed on the global batch (all ranks)
    batch_rows: tuple[torch.Tensor, int] | None = None  # DDP: this rank's rows of the global batch, its size
    balancer: Any = None  # train.balancing uncertainty: the UncertaintyWeighting (its log-variances are optimised)

    @property
    def evaluated(self) -> torch.nn.Module:
        """The network validation scores and checkpoints ship: the weights' moving average when kept."""
        return self.ema.module if self.ema is not None else self.model


def build_step_parts(cfg, tasks, table, couplings, device: torch.device, total_steps: int,
                     distributed: bool = False, batch_rows: tuple[torch.Tensor, int] | None = None) -> StepParts:
    """Model, objective, optimiser, schedule and AMP as `train.*` asks, on `device`.

    The weights are drawn right after seeding from `train.seed`, so they depend on the seed alone
    (identical on every rank), not on what building the data drew from the global generator.
    With `distributed`, the model is wrapped in DistributedDataParallel and its BatchNorm layers use
    the global batch's statistics (SyncBatchNorm on CUDA, `GlobalBatchNorm` elsewhere: SyncBatchNorm
    refuses CPU tensors), so a DDP step equals one process's step on the whole batch. `batch_rows`
    (`HeteroBatchSampler.rank_rows()`): each image is augmented as in one process.
    """
    memory_format = torch.channels_last if cfg.train.channels_last else torch.contiguous_format
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg.model, tasks, resolve_preprocessing(cfg)).to(device, memory_format=memory_format)
    if distributed and cfg.train.mixup > 0:
        raise ConfigError("train.mixup is not supported under torchrun yet (partners are drawn within one "
                          "process's batch); train in one process or set train.mixup=0")
    objective = MultiTaskObjective(tasks, couplings, cfg.train.label_smoothing).to(device)
    if distributed and device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)  # global batch statistics
    elif distributed:
        model = global_batchnorm(model)
    net = torch.nn.parallel.DistributedDataParallel(model) if distributed else model
    optimizer = build_optimizer(cfg.train, model)
    balancer = _balancer(cfg.train, tasks, optimizer, device)
    autocast, amp_dtype = _autocast(device, cfg.train.amp)
    return StepParts(cfg, net, model, objective, optimizer, build_scheduler(cfg.train, optimizer, total_steps),
                     torch.amp.GradScaler(enabled=cfg.train.amp == "fp16"), autocast, amp_dtype, device,
                     memory_format, table, _moving_average(model, cfg.train.ema_decay), distributed,
                     batch_rows, balancer)


def _balancer(train_cfg, tasks, optimizer, device):
    """train.balancing's state: uncertainty weighting's log-variances, in their own parameter group
    (no weight decay; `balancing_lr` or the model's lr, on the same schedule). None otherwise."""
    if train_cfg.balancing != "uncertainty":
        return None
    balancer = UncertaintyWeighting(t.name for t in tasks).to(device)
    optimizer.add_param_group({"params": list(balancer.parameters()), "weight_decay": 0.0,
                               "lr": train_cfg.balancing_lr or train_cfg.lr})
    return balancer


def _moving_average(model: torch.nn.Module, decay: float):
    """An exponential moving average of the weights and BatchNorm statistics (None when decay is 0)."""
    if decay <= 0:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def _autocast(device: torch.device, amp: str):
    if amp == "none":
        return contextlib.nullcontext(), None
    if amp == "fp16" and device.type != "cuda":
        raise ConfigError("train.amp=fp16 needs a CUDA device; use bf16 on CPU")
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype), dtype


@dataclass
class StepOutput:
    losses: dict
    x: torch.Tensor  # the augmented model input
    logits: dict  # of the global batch under DDP (what the losses saw)
    labels: dict  # the same
    balance: dict = dataclasses.field(default_factory=dict)  # train.balancing: each task's weight in this step


def _no_mark(phase: str) -> None:
    pass


def optimisation_step(parts: StepParts, images: torch.Tensor, idx: torch.Tensor, global_step: int,
                      mark: Callable[[str], None] = _no_mark) -> StepOutput:
    """Augment (and blend, with `train.mixup`), forward, named losses, backward on their sum (or as
    `train.balancing` balances them), optimiser and scheduler step.

    `global_step` counts the steps already taken; `mark(phase)` is called as each of PHASES ends.
    Raises FaceBehaviorError when the loss is not finite.
    """
    cfg = parts.cfg
    # Seeds derived from the step: augmentation and dropout replay exactly after a resume. Dropout's
    # seed differs per DDP rank, or every rank would drop the same units of its k-th sample.
    rank = torch.distributed.get_rank() if parts.distributed else 0
    torch.manual_seed(cfg.train.seed * 7919 + global_step + 1_000_003 * rank)
    # uint8 to the device (a quarter of the bytes of floats), augmented there: on a GPU the warp and
    # jitter leave the CPU; the random draws stay on the CPU
    images = images.to(parts.device, non_blocking=True)
    x = training_input(images, cfg.data.augment, make_generator(cfg.train.seed, global_step), parts.memory_format,
                       parts.batch_rows)
    mark("augment")
    if not parts.distributed:
        labels = {k: v.to(parts.device, non_blocking=True) for k, v in parts.table.batch_labels(idx).items()}
    partner, lam = None, 1.0
    if cfg.train.mixup > 0:  # blends the augmented images (refused under DDP: build_step_parts)
        mixing = make_generator(cfg.train.seed + _MIXUP_STREAM, global_step)
        partner = partners(parts.objective.tasks, labels, mixing)
        lam = draw_lambda(cfg.train.mixup, mixing)
        x = mix_inputs(x, partner, lam)
    mark("labels")
    balancing = cfg.train.balancing
    features, taps = [], []
    if balancing == "pcgrad":  # the heads' input: the shared representation gradient surgery starts from
        taps = [m.head.register_forward_pre_hook(lambda _, args: features.append(args[0]))
                for m in parts.model.modules() if isinstance(m, MultiTaskNet)]
    # pcgrad under DDP: no gradient sync in the backward; pcgrad_backward averages each term's gradient itself
    sync = parts.net.no_sync() if taps and parts.distributed else contextlib.nullcontext()
    with sync, parts.autocast:
        logits = parts.net(x)
    for tap in taps:
        tap.remove()
    if parts.distributed:  # the losses see the global batch, as one process on it would
        logits, idx = gather_global_batch(logits, idx)
        labels = {k: v.to(parts.device, non_blocking=True) for k, v in parts.table.batch_labels(idx).items()}
    mark("forward")
    present: dict | None = {} if balancing != "none" else None
    if partner is None:
        losses = parts.objective(logits, labels, present=present)
    else:
        losses = mixed_losses(parts.objective, logits, labels, partner, lam, present)
    mark("losses")
    parts.optimizer.zero_grad(set_to_none=True)  # set_to_none: an absent task's log-variance keeps grad None
    balance, backward_on = {}, losses["total"]
    if parts.balancer is not None:
        balance = parts.balancer.weights()  # exp(−s_t) this step's losses are weighted with
        backward_on = losses["balanced"] = parts.balancer(losses, present)
    terms = objectives(losses, present) if balancing == "pcgrad" else {}
    if terms:
        balance = pcgrad_backward({k: parts.scaler.scale(v) for k, v in terms.items()}, features,
                                  parts.model.parameters(), cfg.train.seed * 7919 + global_step, parts.distributed,
                                  batched=parts.amp_dtype is None)
    else:
        parts.scaler.scale(backward_on).backward()
    mark("backward")
    if cfg.train.grad_clip > 0:
        parts.scaler.unscale_(parts.optimizer)
        torch.nn.utils.clip_grad_norm_(parts.model.parameters(), cfg.train.grad_clip)
    parts.scaler.step(parts.optimizer)
    parts.scaler.update()
    parts.scheduler.step()
    if parts.ema is not None:
        parts.ema.update_parameters(parts.model)
    mark("optimizer")
    total = backward_on.item()
    if not math.isfinite(total):
        raise FaceBehaviorError(f"loss became {total} at step {global_step + 1}; "
                                "lower train.lr or enable train.grad_clip")
    mark("check")
    return StepOutput(losses, x, logits, labels, balance)
