"""Image decoding, normalisation to [-1, 1] and batched augmentation.

Augmentation runs on whole batches as tensors (one affine grid for the batch), not per sample in
Python, so the training step stays vectorised. Its randomness comes from a generator seeded by
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
    """Random flip, scale, rotation, translation, brightness/contrast on a [-1, 1] batch."""
    if not cfg.enabled:
        return x
    b = x.shape[0]

    def uniform(lo, hi):
        return torch.rand(b, generator=generator) * (hi - lo) + lo

    scale = uniform(*cfg.scale)
    angle = uniform(-cfg.rotate_deg, cfg.rotate_deg) * (math.pi / 180)
    tx, ty = uniform(-cfg.translate, cfg.translate) * 2, uniform(-cfg.translate, cfg.translate) * 2
    flip = torch.where(torch.rand(b, generator=generator) < 0.5, -1.0, 1.0) if cfg.flip else torch.ones(b)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1)
    grid = F.affine_grid(theta.to(x), list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if cfg.grayscale:
        x = x.mean(1, keepdim=True).expand_as(x)
    contrast = uniform(1 - cfg.contrast, 1 + cfg.contrast).to(x)[:, None, None, None]
    brightness = uniform(-cfg.brightness, cfg.brightness).to(x)[:, None, None, None]
    mean = x.mean((1, 2, 3), keepdim=True)
    return ((x - mean) * contrast + mean + brightness).clamp_(-1, 1)
