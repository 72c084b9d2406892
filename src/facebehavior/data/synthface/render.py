"""`render_face`: parameters → an RGB face image (NumPy + Pillow, deterministic)."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from facebehavior.data.synthface import au_parts, face_parts
from facebehavior.data.synthface.canvas import Canvas
from facebehavior.data.synthface.params import FaceParams, Nuisance
from facebehavior.errors import ConfigError

MIN_SIZE, MAX_SIZE = 16, 112
LIPSTICK = (185, 35, 60)


def _supersampling(size: int) -> int:
    # Draw at ≥128 px and box-downsample: anti-aliasing that keeps sub-pixel AU motion visible.
    return max(2, -(-128 // size))


def render_face(params: FaceParams, size: int = 64) -> np.ndarray:
    """Render one face as an (size, size, 3) uint8 array; the same params give the same bytes."""
    if not MIN_SIZE <= int(size) <= MAX_SIZE:
        raise ConfigError(f"SynthFace image size {size} is outside {MIN_SIZE}..{MAX_SIZE}; pick e.g. 64 or 112")
    size = int(size)
    ss = _supersampling(size)
    cv = Canvas(size * ss, params.nuisance)
    face_parts.draw_body(cv, params)
    face_parts.draw_face_base(cv, params)
    au_parts.draw_nose(cv, params)
    au_parts.draw_eyes(cv, params)
    au_parts.draw_brows(cv, params)
    lips = LIPSTICK if params.wear.lipstick else params.shape.lip_color
    au_parts.draw_mouth(cv, params, lips)
    face_parts.draw_hair(cv, params)
    if params.wear.glasses or params.wear.sunglasses:
        face_parts.draw_glasses(cv, params)
    face_parts.draw_occluder(cv, params)
    arr = np.asarray(cv.image.reduce(ss), np.float32)
    blur = params.nuisance.blur * size / 64.0
    if blur > 0.2:
        import cv2  # imported here so that importing SynthFace stays light; 15× faster than Pillow's blur

        arr = cv2.GaussianBlur(arr, (0, 0), blur)
    return _photometric(arr, params.nuisance, size)


NOISE_BANK = 4              # the noise field is this many image sides wide


@lru_cache(maxsize=8)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    g = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    return np.meshgrid(g, g)


@lru_cache(maxsize=8)
def _noise_field(size: int) -> np.ndarray:
    # A fixed field of unit Gaussian noise; each image reads its own window of it, chosen by
    # its noise seed. Drawing 12k fresh normals per image costs more than drawing the face.
    rng = np.random.default_rng(20240607)
    return rng.standard_normal((NOISE_BANK * size, NOISE_BANK * size, 3), dtype=np.float32)


def _noise(size: int, seed: int) -> np.ndarray:
    field = _noise_field(size)
    span = field.shape[0] - size
    y, x = divmod(seed % (span * span), span)
    window = field[y:y + size, x:x + size]
    return window[::-1] if seed & 1 << 30 else window  # vertical flip doubles the windows


def _photometric(arr: np.ndarray, nz: Nuisance, size: int) -> np.ndarray:
    """Contrast, brightness, a directional light gradient and sensor noise (all float32)."""
    gx, gy = _grid(size)
    # Python floats keep the arrays float32 (a NumPy float64 scalar would upcast them)
    cos, sin = math.cos(nz.light_angle) * nz.light, math.sin(nz.light_angle) * nz.light
    gain = (nz.brightness * (1.0 + cos * gx + sin * gy))[..., None]
    out = arr * (nz.contrast * gain)  # ((arr - 128) * contrast + 128) * gain, plus 0.5 to round
    out += (128.0 * (1.0 - nz.contrast)) * gain + 0.5
    if nz.noise > 0:
        out += _noise(size, nz.noise_seed) * float(nz.noise)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)
