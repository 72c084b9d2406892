"""Collect evaluation arrays from every torch.distributed rank, so metrics see the whole set."""

from __future__ import annotations

import numpy as np

from facebehavior.errors import FaceBehaviorError

# dtypes that travel as tensors (bool goes as uint8: not every backend reduces bool tensors)
_TENSOR_KINDS = {"f": (np.float16, np.float32, np.float64), "i": (np.int8, np.int16, np.int32, np.int64),
                 "u": (np.uint8,), "b": (np.bool_,)}


def _as_numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _travels_as_tensor(arr: np.ndarray) -> bool:
    return arr.ndim >= 1 and any(arr.dtype == t for t in _TENSOR_KINDS.get(arr.dtype.kind, ()))


def _check_same_layout(dist, arrays: dict[str, np.ndarray]) -> None:
    """Every rank must hold the same keys with the same dtypes and trailing shapes."""
    layout = {k: (a.dtype.kind if a.dtype.kind in "OUS" else a.dtype.str, a.shape[1:]) for k, a in arrays.items()}
    layouts: list = [None] * dist.get_world_size()
    dist.all_gather_object(layouts, layout)
    for rank, other in enumerate(layouts):
        if other != layouts[0]:
            raise FaceBehaviorError(f"gather_arrays: rank {rank} holds {other}, rank 0 holds {layouts[0]}; "
                                    "every rank must pass the same keys, dtypes and trailing shapes")


def _gather_tensor(dist, torch, arr: np.ndarray, device) -> np.ndarray:
    world = dist.get_world_size()
    sendable = arr.astype(np.uint8) if arr.dtype == np.bool_ else arr
    length = torch.tensor([arr.shape[0]], dtype=torch.int64, device=device)
    lengths = [torch.zeros_like(length) for _ in range(world)]
    dist.all_gather(lengths, length)
    sizes = [int(x.item()) for x in lengths]
    if max(sizes) == 0:  # nothing anywhere; skip a zero-size collective
        return arr
    padded = np.zeros((max(sizes), *arr.shape[1:]), dtype=sendable.dtype)
    padded[: arr.shape[0]] = sendable
    local = torch.from_numpy(padded).to(device)
    parts = [torch.empty_like(local) for _ in range(world)]
    dist.all_gather(parts, local)
    out = np.concatenate([p.cpu().numpy()[:s] for p, s in zip(parts, sizes)])
    return out.astype(np.bool_) if arr.dtype == np.bool_ else out


def _gather_object(dist, arr: np.ndarray) -> np.ndarray:
    parts: list = [None] * dist.get_world_size()
    dist.all_gather_object(parts, arr)
    return np.concatenate(parts)


def _unique_rows(arrays: dict[str, np.ndarray], key: str) -> dict[str, np.ndarray]:
    """First occurrence of each value of ``arrays[key]``, in ascending key order."""
    if key not in arrays:
        raise FaceBehaviorError(f"gather_arrays: unique_by={key!r} is not one of the keys {sorted(arrays)}")
    _, first = np.unique(arrays[key], return_index=True)
    return {k: a[first] for k, a in arrays.items()}


def gather_arrays(d: dict, unique_by: str | None = None) -> dict[str, np.ndarray]:
    """Concatenate each array along axis 0 across ranks (rank order); identity without distributed.

    Ranks may hold different numbers of rows. Numeric and bool arrays are padded and all-gathered as
    tensors (on the current CUDA device under NCCL); strings and objects go through
    ``all_gather_object``. ``unique_by`` names an index array: rows repeated across ranks (a
    DistributedSampler pads the last batch with repeats) are kept once, ordered by that index.
    """
    arrays = {k: _as_numpy(v) for k, v in d.items()}
    for k, a in arrays.items():
        if a.ndim == 0:
            raise FaceBehaviorError(f"gather_arrays: {k!r} is a scalar; pass arrays with one row per sample")
    try:
        import torch
        import torch.distributed as dist
    except ImportError:  # torch is a dependency, but keep the NumPy path usable without it
        dist = None
    if dist is not None and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        _check_same_layout(dist, arrays)
        device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" \
            else torch.device("cpu")
        # collectives run in sorted key order: every rank must issue them identically
        gathered = {k: _gather_tensor(dist, torch, arrays[k], device) if _travels_as_tensor(arrays[k])
                    else _gather_object(dist, arrays[k]) for k in sorted(arrays)}
        arrays = {k: gathered[k] for k in arrays}
    return _unique_rows(arrays, unique_by) if unique_by else arrays
