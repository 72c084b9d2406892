"""Normalisation to [-1, 1], image decoding and batched augmentation."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from facebehavior.config import AugmentConfig
from facebehavior.data import transforms
from facebehavior.data.transforms import (affine_grid, augment_batch, load_image, make_generator, remap_uint8,
                                          to_model_input, training_input)
from facebehavior.errors import DataFormatError


def _batch(b=4, size=32) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return to_model_input(torch.randint(0, 256, (b, 3, size, size), generator=g, dtype=torch.uint8))


def test_to_model_input_maps_uint8_onto_minus_one_one():
    x = torch.tensor([0, 127, 255], dtype=torch.uint8).view(1, 3, 1, 1)
    out = to_model_input(x)
    assert out.dtype == torch.float32
    assert out.flatten().tolist() == pytest.approx([-1.0, 127 / 127.5 - 1, 1.0])
    assert x.dtype == torch.uint8 and x.flatten().tolist() == [0, 127, 255]  # input left alone


def test_augment_is_deterministic_for_the_same_generator_seed():
    x = _batch()
    cfg = AugmentConfig()
    a = augment_batch(x, cfg, make_generator(7, 3))
    b = augment_batch(x, cfg, make_generator(7, 3))
    c = augment_batch(x, cfg, make_generator(7, 4))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_augment_keeps_shape_and_range():
    x = _batch(b=5, size=24)
    cfg = AugmentConfig(brightness=0.9, contrast=0.9, grayscale=True)
    out = augment_batch(x, cfg, make_generator(0, 0))
    assert out.shape == x.shape and out.dtype == torch.float32
    assert out.min() >= -1 and out.max() <= 1
    assert torch.allclose(out[:, 0], out[:, 1]) and torch.allclose(out[:, 1], out[:, 2])  # grayscale


def test_disabled_augmentation_returns_the_input():
    x = _batch()
    assert augment_batch(x, AugmentConfig(enabled=False), make_generator(0, 0)) is x


def test_zero_strength_augmentation_is_identity():
    x = _batch()
    cfg = AugmentConfig(flip=False, scale=[1.0, 1.0], rotate_deg=0.0, translate=0.0, brightness=0.0, contrast=0.0)
    out = augment_batch(x, cfg, make_generator(1, 1))
    assert torch.allclose(out, x, atol=1e-5)


def test_flip_only_mirrors_some_images_horizontally():
    x = _batch(b=16)
    cfg = AugmentConfig(flip=True, scale=[1.0, 1.0], rotate_deg=0.0, translate=0.0, brightness=0.0, contrast=0.0)
    out = augment_batch(x, cfg, make_generator(2, 0))
    flipped = [torch.allclose(o, i.flip(-1), atol=1e-5) for o, i in zip(out, x)]
    kept = [torch.allclose(o, i, atol=1e-5) for o, i in zip(out, x)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert any(flipped) and any(kept)


def _reference_augment(x, cfg, generator):
    """The straightforward version the fast one replaced: always warp, then jitter out of place."""
    b = x.shape[0]

    def uniform(lo, hi):
        return torch.rand(b, generator=generator) * (hi - lo) + lo

    scale = uniform(*cfg.scale)
    angle = uniform(-cfg.rotate_deg, cfg.rotate_deg) * (math.pi / 180)
    tx, ty = uniform(-cfg.translate, cfg.translate) * 2, uniform(-cfg.translate, cfg.translate) * 2
    flip = torch.where(torch.rand(b, generator=generator) < 0.5, -1.0, 1.0) if cfg.flip else torch.ones(b)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if cfg.grayscale:
        x = x.mean(1, keepdim=True).expand_as(x)
    contrast = uniform(1 - cfg.contrast, 1 + cfg.contrast)[:, None, None, None]
    brightness = uniform(-cfg.brightness, cfg.brightness)[:, None, None, None]
    mean = x.mean((1, 2, 3), keepdim=True)
    return ((x - mean) * contrast + mean + brightness).clamp_(-1, 1)


CONFIGS = [
    AugmentConfig(),  # full geometric + photometric
    AugmentConfig(scale=[1.0, 1.0], rotate_deg=0.0, translate=0.0, brightness=0.1, contrast=0.1),  # the demo's
    AugmentConfig(flip=False, scale=[1.0, 1.0], rotate_deg=0.0, translate=0.0, brightness=0.5, contrast=0.5),
    AugmentConfig(rotate_deg=30.0, grayscale=True, brightness=0.9, contrast=0.9),
    AugmentConfig(scale=[1.0, 1.0], rotate_deg=0.0, translate=0.0, grayscale=True),
    AugmentConfig(flip=False, scale=[1.0, 1.0], rotate_deg=0.0, translate=0.0, brightness=0.0, contrast=0.0),
]
CONFIG_IDS = ["default", "flip_photometric", "photometric_only", "strong_gray", "flip_gray", "nothing"]


@pytest.mark.parametrize("cfg", CONFIGS, ids=CONFIG_IDS)
def test_fast_augment_matches_the_reference_warp(cfg):
    x = _batch(b=12, size=20)
    before = x.clone()
    fast = augment_batch(x, cfg, make_generator(5, 9))
    slow = _reference_augment(x, cfg, make_generator(5, 9))
    assert torch.equal(x, before)  # the input is not modified in place
    assert fast.shape == x.shape and fast.is_contiguous()
    assert torch.allclose(fast, slow, atol=1e-5)


@pytest.mark.parametrize("input_format", [torch.contiguous_format, torch.channels_last], ids=["in_nchw", "in_nhwc"])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last], ids=["nchw", "nhwc"])
@pytest.mark.parametrize("cfg", CONFIGS + [AugmentConfig(enabled=False)], ids=CONFIG_IDS + ["disabled"])
def test_training_input_equals_augmenting_the_normalised_batch(cfg, memory_format, input_format):
    images = torch.randint(0, 256, (10, 3, 18, 18), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    images = images.contiguous(memory_format=input_format)  # the in-memory cache hands over channels_last
    before = images.clone()
    fused = training_input(images, cfg, make_generator(3, 4), memory_format)
    two_steps = augment_batch(to_model_input(images), cfg, make_generator(3, 4))
    assert torch.equal(images, before)
    assert fused.dtype == torch.float32 and fused.is_contiguous(memory_format=memory_format)
    # a uint8 warp (OpenCV's fixed-point remap) rounds to whole grey levels, which contrast then scales
    grey_level = 1 / 127.5 * (1 + cfg.contrast)
    tolerance = grey_level if cfg.enabled and transforms._moves_pixels(cfg) else 1e-5
    assert torch.allclose(fused, two_steps, atol=tolerance, rtol=0)


def _random_theta(b, generator):
    """Similarity transforms well past the augmentation defaults: ±40°, scale 0.6–1.5, shifts
    beyond the image (border padding), some mirrored."""
    angle = (torch.rand(b, generator=generator) - 0.5) * math.radians(80)
    scale = 0.6 + 0.9 * torch.rand(b, generator=generator)
    shift = (torch.rand(b, 2, generator=generator) - 0.5) * 1.5
    mirror = torch.where(torch.rand(b, generator=generator) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    return torch.stack([torch.stack([cos * mirror, -sin, shift[:, 0]], 1),
                        torch.stack([sin * mirror, cos, shift[:, 1]], 1)], 1)


@pytest.mark.parametrize("shape", [(9, 3, 24, 24), (5, 3, 17, 30), (4, 1, 13, 8)], ids=["square", "wide", "gray"])
def test_remap_uint8_is_within_a_grey_level_of_grid_sample(shape):
    g = torch.Generator().manual_seed(11)
    images = torch.randint(0, 256, shape, generator=g, dtype=torch.uint8)
    theta = _random_theta(shape[0], g)
    ours = remap_uint8(images, theta)
    grid = F.affine_grid(theta, list(shape), align_corners=False)
    reference = F.grid_sample(images.float(), grid, mode="bilinear", padding_mode="border", align_corners=False)
    assert ours.dtype == torch.uint8 and ours.shape == images.shape
    assert ours.is_contiguous(memory_format=torch.channels_last)
    # OpenCV samples at 1/32 pixel and rounds: under a grey level from the float warp on noise images
    assert (ours.float() - reference).abs().max() < 1.0


def test_remap_uint8_splits_tall_batches_without_changing_pixels(monkeypatch):
    g = torch.Generator().manual_seed(12)
    images = torch.randint(0, 256, (7, 3, 10, 12), generator=g, dtype=torch.uint8)
    theta = _random_theta(7, g)
    whole = remap_uint8(images, theta)
    monkeypatch.setattr(transforms, "_CV_MAX_ROWS", 25)  # two images per cv2 call: four calls
    assert torch.equal(remap_uint8(images, theta), whole)


def test_affine_grid_equals_torch_affine_grid():
    theta = torch.randn(6, 2, 3, generator=torch.Generator().manual_seed(0))
    ours = affine_grid(theta, 7, 11)
    theirs = F.affine_grid(theta, [6, 3, 7, 11], align_corners=False)
    assert ours.shape == theirs.shape
    assert torch.allclose(ours, theirs, atol=1e-6)


def test_load_image_decodes_and_resizes(tmp_path):
    path = tmp_path / "face.png"
    Image.fromarray(np.full((20, 30, 3), 200, np.uint8)).save(path)
    img = load_image(path)
    assert img.shape == (20, 30, 3) and img.dtype == np.uint8 and img.flags.writeable
    assert load_image(path, 16).shape == (16, 16, 3)
    Image.fromarray(np.full((8, 8), 50, np.uint8), mode="L").save(tmp_path / "gray.png")
    assert load_image(tmp_path / "gray.png").shape == (8, 8, 3)


def test_load_image_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"no image here")
    with pytest.raises(DataFormatError, match="bad.jpg"):
        load_image(bad)
    with pytest.raises(DataFormatError, match="missing.png"):
        load_image(tmp_path / "missing.png")


def test_remap_uint8_leaves_opencv_thread_count_as_it_was():
    import cv2

    before = cv2.getNumThreads()
    g = torch.Generator().manual_seed(13)
    remap_uint8(torch.randint(0, 256, (2, 3, 8, 8), generator=g, dtype=torch.uint8), _random_theta(2, g))
    assert cv2.getNumThreads() == before


def test_random_erasing_blanks_one_rectangle_in_the_chosen_share_of_images():
    from facebehavior.config import AugmentConfig
    from facebehavior.data.transforms import _erase_mask

    cfg = AugmentConfig(erase=0.5, erase_area=[0.1, 0.2])
    mask = _erase_mask((400, 3, 40, 40), cfg, make_generator(0, 1))[:, 0]
    erased = mask.flatten(1).any(1)
    assert 0.4 < erased.float().mean() < 0.6
    areas = mask.flatten(1).sum(1)[erased].float() / (40 * 40)
    assert areas.min() >= 0.05 and areas.max() <= 0.3  # the asked area, up to rounding and clipping
    for m in mask[erased][:20]:  # one axis-aligned rectangle: its bounding box is all erased
        r, c = m.any(1).nonzero(), m.any(0).nonzero()
        assert m[r.min():r.max() + 1, c.min():c.max() + 1].all()


def test_random_erasing_off_keeps_the_exact_draws_and_on_fills_mid_grey():
    from facebehavior.config import AugmentConfig

    images = torch.randint(0, 256, (16, 3, 24, 24), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    plain = training_input(images, AugmentConfig(), make_generator(2, 3))
    erased = training_input(images, AugmentConfig(erase=1.0), make_generator(2, 3))
    changed = plain != erased
    assert changed.any()
    assert (erased[changed] == 0).all()  # only erased pixels differ, and they are the mid-grey 0
