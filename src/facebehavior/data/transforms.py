"""Image decoding, normalisation to [-1, 1] and batched augmentation.

Augmentation runs on whole batches as tensors (one warp for the batch), not per sample in
Python, so the training step stays vectorised. It runs where the batch is: on a CPU that is the
training thread, so every pass over the batch counts (see benchmarks/bench_step.py; running it on a
background thread during forward + backward instead saved nothing on a 2-core CPU, whose cores the
training threads keep busy: benchmarks/bench_overlap.py). Its
randomness comes from a CPU generator seeded by (seed, step), whatever the device: a resumed run
sees exactly the augmentations the uninterrupted run would have.
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
    """uint8 (B, 3, H, W) → float in [-1, 1], the paper's normalisation (models/preprocessing.py)."""
    from facebehavior.models.preprocessing import Preprocessing, normalize

    return normalize(images, Preprocessing())


def make_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + step) % (2**63))


def training_input(images: torch.Tensor, cfg, generator: torch.Generator,
                   memory_format: torch.memory_format = torch.contiguous_format,
                   rows: tuple[torch.Tensor, int] | None = None) -> torch.Tensor:
    """The trainer's model input: uint8 (B, 3, H, W) → augmented floats in [-1, 1], in `memory_format`.

    `rows` = (positions, total): the batch is these rows of a batch of `total` images (a DDP rank's
    share of the global batch); the random draws are made for all `total` and these rows taken, so
    every image is augmented as it would be in one process on the whole batch.

    Equals `augment_batch(to_model_input(images), cfg, generator)` up to float rounding (within
    one grey level where a uint8 CPU batch is warped: see `_warp`), in fewer passes over memory:
    flips and warps run on the uint8 batch (a quarter of the bytes) and the map to [-1, 1] is
    folded into the brightness/contrast pass (flips and bilinear warps commute with it), so the
    float batch is allocated once or twice per step instead of four times.
    """
    from facebehavior.models.preprocessing import Preprocessing

    prep = Preprocessing()  # the paper's normalisation, written once in models/preprocessing.py
    if not cfg.enabled:
        return images.to(torch.float32, memory_format=memory_format).div_(prep.std).sub_(prep.mean / prep.std)
    return _augment(images, cfg, generator, 1 / prep.std, -prep.mean / prep.std, memory_format, rows)


def augment_batch(x: torch.Tensor, cfg, generator: torch.Generator) -> torch.Tensor:
    """Random flip, scale, rotation, translation, brightness/contrast on a [-1, 1] float batch.

    Returns a new contiguous tensor (the input is left alone).
    """
    if not cfg.enabled:
        return x
    return _augment(x, cfg, generator, 1.0, 0.0, torch.contiguous_format)


def _augment(pixels: torch.Tensor, cfg, generator: torch.Generator, gain: float, bias: float,
             memory_format: torch.memory_format, rows: tuple[torch.Tensor, int] | None = None) -> torch.Tensor:
    """Augment `pixels` (uint8 or float), whose normalised values are gain · pixels + bias.

    The random draws come in one fixed order whatever is switched on, so a seed always gives the
    same parameters. A config without scale, rotation or translation flips by indexing instead of
    resampling every pixel.
    """
    b = pixels.shape[0]

    def rand() -> torch.Tensor:  # b draws: this batch's rows of the draws for the whole batch
        if rows is None:
            return torch.rand(b, generator=generator)
        return torch.rand(rows[1], generator=generator)[rows[0]]

    def uniform(lo, hi):  # drawn on the CPU generator, whatever the batch's device: same draws everywhere
        return (rand() * (hi - lo) + lo).to(pixels.device)

    scale = uniform(*cfg.scale)
    angle = uniform(-cfg.rotate_deg, cfg.rotate_deg) * (math.pi / 180)
    tx, ty = uniform(-cfg.translate, cfg.translate) * 2, uniform(-cfg.translate, cfg.translate) * 2
    flipped = (rand() < 0.5 if cfg.flip else torch.zeros(b, dtype=torch.bool))
    flipped = flipped.to(pixels.device)
    if _moves_pixels(cfg):
        x = _warp(pixels, _theta(scale, angle, tx, ty, flipped)).float()  # a new tensor
    else:
        x = _flip(pixels, flipped)
        x = x.to(torch.float32, copy=x is pixels)  # never write into `pixels`; the layout changes below
    if cfg.grayscale:
        x = x.mean(1, keepdim=True)  # jittered at one channel's cost, expanded at the end
    contrast = uniform(1 - cfg.contrast, 1 + cfg.contrast).to(x)[:, None, None, None]
    brightness = uniform(-cfg.brightness, cfg.brightness).to(x)[:, None, None, None]
    # With n = gain·x + bias and m its per-image mean, (n − m)·c + m + b = x·(gain·c) + shift.
    if cfg.contrast or cfg.brightness:
        mean = x.mean((1, 2, 3), keepdim=True) * gain + bias
        shift = (bias - mean) * contrast + mean + brightness
    else:
        shift = torch.full_like(contrast, bias)
    # the pass that writes the result goes straight into the wanted layout (a casting copy into
    # channels_last is several times slower than a same-dtype one); mul then add_, as a broadcast
    # addcmul is slower on CPU
    out = x if x.is_contiguous(memory_format=memory_format) else torch.empty_like(x, memory_format=memory_format)
    torch.mul(x, gain * contrast, out=out).add_(shift).clamp_(-1, 1)
    if getattr(cfg, "erase", 0) > 0:  # drawn last: configs without it keep their exact draws
        out.masked_fill_(_erase_mask(out.shape, cfg, generator, rand).to(out.device), 0.0)
    return out.expand(-1, 3, -1, -1).contiguous(memory_format=memory_format) if cfg.grayscale else out


def _erase_mask(shape, cfg, generator: torch.Generator, rand=None) -> torch.Tensor:
    """Random erasing as one boolean mask (B, 1, H, W): a share `cfg.erase` of the images gets one
    rectangle, of area `cfg.erase_area` (a share of the image) and aspect ratio in [0.3, 3.3]
    (log-uniform, Zhong et al.'s defaults), anywhere inside the image; it is filled with the
    normalised mid-grey 0."""
    b, _, h, w = shape
    rand = rand or (lambda: torch.rand(b, generator=generator))
    chosen = rand() < cfg.erase
    lo, hi = cfg.erase_area
    area = (rand() * (hi - lo) + lo) * h * w
    aspect = torch.exp((rand() * 2 - 1) * math.log(3.3))
    eh = (area * aspect).sqrt().round().clamp(1, h)
    ew = (area / aspect).sqrt().round().clamp(1, w)
    top = (rand() * (h - eh + 1)).floor()
    left = (rand() * (w - ew + 1)).floor()
    rows, cols = torch.arange(h)[None, :], torch.arange(w)[None, :]
    in_rows = (rows >= top[:, None]) & (rows < (top + eh)[:, None])
    in_cols = (cols >= left[:, None]) & (cols < (left + ew)[:, None])
    return (in_rows[:, :, None] & in_cols[:, None, :] & chosen[:, None, None])[:, None]


def _moves_pixels(cfg) -> bool:
    return tuple(cfg.scale) != (1.0, 1.0) or cfg.rotate_deg != 0 or cfg.translate != 0


def _flip(x: torch.Tensor, flipped: torch.Tensor) -> torch.Tensor:
    """Mirror the images marked in `flipped` into a new tensor (`x` itself when none is), in x's layout.

    Works on the view in which x is contiguous (N×H×W×C for channels_last), so copying the kept
    images moves whole images; on the channels_last tensor itself the same ops go element by
    element and take several times longer.
    """
    if not flipped.any():
        return x
    nhwc = not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
    view = x.permute(0, 2, 3, 1) if nhwc else x
    out = view.flip(2 if nhwc else 3)
    if x.dtype == torch.uint8 and x.device.type == "cpu":
        # torch's index ops copy uint8 element by element, NumPy's row assignment copies whole
        # images (for float32 index_copy_ was the faster of the two)
        kept = np.flatnonzero(~flipped.numpy())
        out.numpy()[kept] = view.numpy()[kept]
    else:
        kept = (~flipped).nonzero().squeeze(1)
        out.index_copy_(0, kept, view.index_select(0, kept))
    return out.permute(0, 3, 1, 2) if nhwc else out


def _theta(scale, angle, tx, ty, flipped) -> torch.Tensor:
    """Per-image (B, 2, 3) similarity transforms, output → input in normalised coordinates."""
    mirror = torch.where(flipped, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    return torch.stack([torch.stack([cos * mirror, -sin, tx], 1), torch.stack([sin * mirror, cos, ty], 1)], 1)


def _warp(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """One bilinear resampling of the batch by per-image transforms (border padding), into a new tensor.

    A uint8 batch on the CPU goes through OpenCV's fixed-point remap, faster than grid_sample on
    floats, and comes out channels_last, so the next pass keeps its layout; it samples at 1/32
    pixel and rounds to uint8, within one grey level of the float warp. Anything else (floats,
    GPU tensors) uses grid_sample.
    """
    if x.dtype == torch.uint8 and x.device.type == "cpu":
        return remap_uint8(x, theta)
    grid = affine_grid(theta.to(x.device, torch.float32), x.shape[-2], x.shape[-1])
    return F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="border", align_corners=False)


_CV_MAX_ROWS = 32766  # cv2.remap asserts that every image side is below SHRT_MAX
# Row coordinates are computed around _EXACT_BASE, inside [8192, 16384) where float32 numbers are the
# multiples of 1/1024 (a 255-level edge moves by at most 0.12 grey): rounding there does not depend on
# an image's place in its stack of at most _EXACT_ROWS rows (2048 px of margin on either side).
_EXACT_BASE, _EXACT_ROWS = 10240.0, 4096


def remap_uint8(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """`grid_sample(images, affine_grid(theta), bilinear, border, align_corners=False)` for a uint8
    CPU batch, as uint8 (B, C, H, W) in channels_last, through cv2.remap.

    The batch is stacked into tall images (a call per 4,096 rows, not per image) and sampled at
    per-pixel source coordinates; clamping them to each image's own rows is grid_sample's border
    padding and keeps the bilinear taps from reaching the neighbouring image. The row coordinates
    are rounded to 1/1024 pixel as the row offsets are added (`_EXACT_BASE`), so an image is warped
    the same wherever it sits in the batch (a DDP rank's share gives the pixels of the whole batch;
    float32 rounding of the offset sum made some pixels differ by a grey level before).
    """
    import cv2

    b, c, h, w = images.shape
    src = images.permute(0, 2, 3, 1).contiguous()  # (B, H, W, C); a view when already channels_last
    per_call = max(1, min(_CV_MAX_ROWS, _EXACT_ROWS) // h)
    # each image's first row in its stack, plus _EXACT_BASE: y lands where float32 steps are 1/1024 px
    # (rounded there, whatever the row), and taking the base off again is exact
    maps = _pixel_maps(theta, h, w, _EXACT_BASE + (torch.arange(b) % per_call).float() * h)
    maps[1] -= _EXACT_BASE
    out = torch.empty((b, h, w, c), dtype=torch.uint8)
    # On OpenCV's calling thread alone: right after torch ops, torch's spinning threads hold the
    # cores and OpenCV's pool gained nothing in bench_step's augment phase, while its threads may
    # spin on into the forward pass (a few bench_step runs hinted at that, within this machine's
    # noise).
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        for start in range(0, b, per_call):
            part = slice(start, start + per_call)
            rows = (min(b, start + per_call) - start) * h
            image, dst = src[part].numpy().reshape(rows, w, c), out[part].numpy().reshape(rows, w, c)
            map_x, map_y = maps[0, part].numpy().reshape(rows, w), maps[1, part].numpy().reshape(rows, w)
            if c == 3:  # OpenCV's 3-channel remap is its slow path: pad to 4 channels and back, same pixels
                image = cv2.cvtColor(image, cv2.COLOR_RGB2RGBA)
                warped = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                cv2.cvtColor(warped, cv2.COLOR_RGBA2RGB, dst=dst)
            else:
                cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, dst=dst, borderMode=cv2.BORDER_REPLICATE)
    finally:
        cv2.setNumThreads(threads)
    return out.permute(0, 3, 1, 2)


def _pixel_maps(theta: torch.Tensor, height: int, width: int, row0: torch.Tensor | None = None) -> torch.Tensor:
    """Source pixel coordinates (2, B, H, W) (x, y) of every output pixel, clamped into the image;
    `row0` (B,): added to each image's y (still clamped into that image's rows).

    θ maps normalised output coordinates to normalised input ones; with align_corners=False pixel
    i sits at (2i + 1)/W − 1, so in pixels θ becomes N⁻¹ θ N with N the pixel → normalised map.
    The maps are stored axis first: cv2.remap takes each as one contiguous plane.
    """
    scale = torch.tensor([[width / 2], [height / 2]], dtype=torch.float32)
    offset = torch.tensor([(width - 1) / 2, (height - 1) / 2], dtype=torch.float32)
    t = theta.float()
    linear = t[:, :, :2] * torch.tensor([2 / width, 2 / height]) * scale  # (B, 2, 2)
    shift = (t[:, :, 0] * (1 / width - 1) + t[:, :, 1] * (1 / height - 1) + t[:, :, 2]) * scale[:, 0] + offset
    if row0 is not None:
        shift = shift.clone()
        shift[:, 1] += row0  # in the small (B, 2) term: the sums below come out rounded as wanted
    maps = torch.empty(2, theta.shape[0], height, width)
    _affine_planes(torch.cat([linear, shift[:, :, None]], 2), torch.arange(width, dtype=torch.float32),
                   torch.arange(height, dtype=torch.float32), maps.permute(1, 0, 2, 3))
    maps[0].clamp_(0, width - 1)
    if row0 is None:
        maps[1].clamp_(0, height - 1)
    else:
        low = row0[:, None, None]
        torch.clamp(maps[1], low, low + (height - 1), out=maps[1])
    return maps


def _affine_planes(theta: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, out: torch.Tensor) -> None:
    """θ·(x, y, 1) for every pixel into `out` (B, 2, H, W): one broadcast add of a (B, 2, H, 1) and a
    (B, 2, 1, W) term, since the map is separable in x and y."""
    t = theta[:, :, :, None, None]  # (B, 2, 3, 1, 1)
    torch.add(t[:, :, 2] + t[:, :, 1] * ys[:, None], t[:, :, 0] * xs, out=out)


def affine_grid(theta: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """`F.affine_grid(theta, (B, C, H, W), align_corners=False)`, built from its separable form.

    The sampling point of output pixel (h, w) is θ·(x_w, y_h, 1): one broadcast add of a
    (B, 2, H, 1) and a (B, 2, 1, W) term into planes whose rows are contiguous, returned as the
    (B, H, W, 2) view grid_sample takes; several times faster on CPU than F.affine_grid's batched
    matmul over a materialised base grid, or than the same add with the pair dimension innermost.
    """
    like = {"dtype": theta.dtype, "device": theta.device}
    xs = torch.linspace(1 / width - 1, 1 - 1 / width, width, **like)  # pixel centres
    ys = torch.linspace(1 / height - 1, 1 - 1 / height, height, **like)
    planes = torch.empty(theta.shape[0], 2, height, width, **like)
    _affine_planes(theta, xs, ys, planes)
    return planes.permute(0, 2, 3, 1)
