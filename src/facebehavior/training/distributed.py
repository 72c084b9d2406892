"""torchrun / DDP setup: the same command runs on one process or many."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup_distributed(device_type: str) -> DistInfo:
    """Initialise the process group when launched by torchrun (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    info = DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    if device_type == "cuda":
        torch.cuda.set_device(info.local_rank)
    return info


# ---- the global batch under DDP -----------------------------------------------------------------------
#
# DDP averages gradients, which equals one process on the whole batch only for losses that are means
# of per-sample terms over equal shares. CCC, distribution matching, masked means (the share of valid
# labels differs per rank) and BatchNorm normalise over the batch, so each rank would see its half
# only. The step therefore computes the objective on the global batch (every rank the same value, from
# logits all-gathered with their gradients), and BatchNorm uses the global batch's statistics.


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


class _AllReduceSum(torch.autograd.Function):
    """Sum over the ranks; the gradient is the sum of every rank's gradient (each rank's loss uses it)."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        out = tensor.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(grad)
        return grad


class _AllGather(torch.autograd.Function):
    """Every rank's tensor concatenated on dim 0 (equal shapes); each rank's share of the gradient
    summed over the ranks goes back to it."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        tensor = tensor.contiguous()
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor)
        ctx.rank, ctx.rows = dist.get_rank(), tensor.shape[0]
        return torch.cat(parts, 0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)  # the gathered tensors are small (logits): a reduce-scatter would save little
        return grad[ctx.rank * ctx.rows:(ctx.rank + 1) * ctx.rows]


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum over the DDP ranks, differentiable. (torch.distributed.nn.functional does this too but is
    deprecated as of torch 2.14; its successor lives in the private _functional_collectives.)"""
    return _AllReduceSum.apply(tensor)


def all_gather_rows(tensor: torch.Tensor) -> torch.Tensor:
    """Every rank's rows in rank order, differentiable (equal shapes on every rank)."""
    return _AllGather.apply(tensor)


def gather_global_batch(logits: dict[str, torch.Tensor], idx: torch.Tensor) -> tuple[dict[str, torch.Tensor],
                                                                                      torch.Tensor]:
    """Every rank's logits (rank order, gradients kept) and dataset indices, concatenated.

    Each rank computes the same loss on the gathered logits; the gradient reaching its own share is
    the sum of what every rank's loss sends it, and DDP's average over the ranks makes that the
    gradient of the one global loss, as a single process on the whole batch has it.
    """
    gathered = {name: all_gather_rows(value) for name, value in logits.items()}
    device = next(iter(logits.values())).device if logits else torch.device("cpu")
    local = idx.to(device=device, dtype=torch.int64)  # NCCL gathers device tensors only
    parts = [torch.empty_like(local) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, local)
    return gathered, torch.cat(parts).to(idx.device)


class GlobalBatchNorm(torch.nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics (and running averages) are the global batch's over all
    DDP ranks, for any device and backend (torch.nn.SyncBatchNorm refuses CPU tensors: "SyncBatchNorm
    expected input tensor to be on GPU", torch 2.14). Two autograd all-reduces per layer (sum, then
    sum of squared deviations from the global mean); outside DDP or in eval mode plain BatchNorm.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not (self.training and world_size() > 1):
            return super().forward(input)
        self._check_input_dim(input)
        dims = [0, *range(2, input.dim())]
        shape = [1, -1] + [1] * (input.dim() - 2)
        x = input.float()
        local_count = torch.tensor([input.numel() // input.size(1)], dtype=torch.float32, device=x.device)
        sums = all_reduce_sum(torch.cat([x.sum(dims), local_count]))
        count = sums[-1].detach()
        mean = sums[:-1] / count
        centred = x - mean.view(shape)
        var = all_reduce_sum((centred * centred).sum(dims)) / count  # biased, as BatchNorm normalises
        out = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                factor = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                unbiased = var.detach() * (count / (count - 1).clamp(min=1))
                self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), factor)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), factor)
        return out.to(input.dtype)


def global_batchnorm(module: torch.nn.Module) -> torch.nn.Module:
    """`module` with every BatchNorm layer replaced by a GlobalBatchNorm holding the same weights and
    statistics (the state dict's names and values are unchanged)."""
    out = module
    if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and not isinstance(
            module, (GlobalBatchNorm, torch.nn.SyncBatchNorm)):
        out = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                              module.track_running_stats, device=_device_of(module))
        out.load_state_dict(module.state_dict())
        out.train(module.training)
        if module.affine:
            out.weight.requires_grad_(module.weight.requires_grad)
            out.bias.requires_grad_(module.bias.requires_grad)
    for name, child in module.named_children():
        out.add_module(name, global_batchnorm(child))
    return out


def _device_of(module: torch.nn.Module) -> torch.device:
    for tensor in [*module.parameters(), *module.buffers()]:
        return tensor.device
    return torch.device("cpu")
