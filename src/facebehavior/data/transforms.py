"""Image decoding, normalisation to [-1, 1] and batched augmentation.

Augmentation runs on whole batches as tensors (one affine grid for the batch), not per sample in
Python, so the training step stays vectorised; it runs on the training thread, so every pass over
the batch counts (see benchmarks/bench_step.py). Its randomness comes from a generator seeded by
(seed, step): a resumed run sees exactly the augmentations the uninterrupted run would have.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from facebehavior.errors import DataFormatError


def load_image(path: str | Path, size: int | None = None) -> np.ndarray:
    """Decode an image file to uint8 RGB (H, W, 3), resized to `size`×`size` if given."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
            if size and img.size != (size, size):
                img = img.resize((size, size), Image.BILINEAR)
            return np.array(img, dtype=np.uint8)  # a writable copy
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DataFormatError(f"{path}: cannot be read as an image ({exc})") from None


def to_model_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, H, W) → float in [-1, 1], the paper's normalisation."""
    return images.float().div_(127.5).sub_(1.0)


def make_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + step) % (2**63))


def augment_batch(x: torch.Tensor, cfg, generator: torch.Generator) -> torch.Tensor:
    """Random flip, scale, rotation, translation, brightness/contrast on a [-1, 1] batch.

    Returns a new tensor (the input is left alone). The random draws come in one fixed order
    whatever is switched on, so a seed always gives the same parameters. A config without scale,
    rotation or translation flips by indexing instead of resampling every pixel.
    """
    if not cfg.enabled:
        return x
    b = x.shape[0]

    def uniform(lo, hi):
        return torch.rand(b, generator=generator) * (hi - lo) + lo

    scale = uniform(*cfg.scale)
    angle = uniform(-cfg.rotate_deg, cfg.rotate_deg) * (math.pi / 180)
    tx, ty = uniform(-cfg.translate, cfg.translate) * 2, uniform(-cfg.translate, cfg.translate) * 2
    flipped = torch.rand(b, generator=generator) < 0.5 if cfg.flip else torch.zeros(b, dtype=torch.bool)
    if _moves_pixels(cfg):
        x = _warp(x, scale, angle, tx, ty, flipped)
    else:
        x = _flip(x, flipped)
    if cfg.grayscale:
        x = x.mean(1, keepdim=True)  # jittered at one channel's cost, expanded at the end
    contrast = uniform(1 - cfg.contrast, 1 + cfg.contrast).to(x)[:, None, None, None]
    brightness = uniform(-cfg.brightness, cfg.brightness).to(x)[:, None, None, None]
    if cfg.contrast or cfg.brightness:
        # (x − mean)·c + mean + b = x·c + shift, in place on our own copy (a broadcast addcmul
        # is slower on CPU than mul_ then add_)
        shift = x.mean((1, 2, 3), keepdim=True) * (1 - contrast) + brightness
        x.mul_(contrast).add_(shift).clamp_(-1, 1)
    return x.expand(-1, 3, -1, -1).contiguous() if cfg.grayscale else x


def _moves_pixels(cfg) -> bool:
    return tuple(cfg.scale) != (1.0, 1.0) or cfg.rotate_deg != 0 or cfg.translate != 0


def _flip(x: torch.Tensor, flipped: torch.Tensor) -> torch.Tensor:
    """Mirror the images marked in `flipped`, into a new tensor: two passes over memory."""
    if not flipped.any():
        return x.clone()
    out = x.flip(-1)
    kept = (~flipped).nonzero().squeeze(1)
    out[kept] = x[kept]
    return out


def _warp(x, scale, angle, tx, ty, flipped) -> torch.Tensor:
    """One bilinear resampling of the batch by per-image similarity transforms (border padding)."""
    mirror = torch.where(flipped, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * mirror, -sin, tx], 1), torch.stack([sin * mirror, cos, ty], 1)], 1)
    grid = affine_grid(theta.to(x), x.shape[-2], x.shape[-1])
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def affine_grid(theta: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """`F.affine_grid(theta, (B, C, H, W), align_corners=False)`, built from its separable form.

    The sampling point of output pixel (h, w) is θ·(x_w, y_h, 1): a (B, 1, W, 2) term plus a
    (B, H, 1, 2) term, one broadcast add over the grid instead of F.affine_grid's batched matmul
    over a materialised base grid (several times faster on CPU).
    """
    xs = torch.linspace(1 / width - 1, 1 - 1 / width, width, dtype=theta.dtype)  # pixel centres
    ys = torch.linspace(1 / height - 1, 1 - 1 / height, height, dtype=theta.dtype)
    per_column = xs[:, None] * theta[:, None, None, :, 0]  # (B, 1, W, 2)
    per_row = ys[:, None, None] * theta[:, None, None, :, 1] + theta[:, None, None, :, 2]  # (B, H, 1, 2)
    return per_column + per_row
