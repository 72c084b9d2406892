"""Torch devices by name (`auto`, `cpu`, `cuda`, `cuda:1`) and the end of a torchrun process group,
shared by training, evaluation and inference."""

from __future__ import annotations

import torch


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    from facebehavior.errors import ConfigError

    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but no CUDA device is available; use --device cpu")
    if name == "cuda":
        return torch.device(f"cuda:{local_rank}")
    return torch.device(name)


def cleanup_distributed() -> None:
    """End the process group on every rank together. Call it once the DDP model is released and
    collected: gloo's worker threads left to interpreter shutdown (a model kept alive by a reference
    cycle holds the group) abort the process ("terminate called without an active exception"), and a
    rank tearing down while another still talks to it fails the other."""
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
