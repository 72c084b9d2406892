"""`render_faces` / `render_face`: parameters → RGB face images (NumPy + OpenCV, deterministic).

Faces are rendered in batches: the geometry of a shape is computed for the whole batch at once
(vectorised NumPy), then OpenCV fills it into each face's supersampled canvas. A face's bytes
do not depend on the batch it is rendered in.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import cv2
import numpy as np

from facebehavior.synthface import au_parts, face_parts
from facebehavior.synthface.batch import FaceBatch
from facebehavior.synthface.canvas import Canvas
from facebehavior.synthface.params import FaceParams
from facebehavior.errors import ConfigError

MIN_SIZE, MAX_SIZE = 16, 112
LIPSTICK = (185, 35, 60)
BLOCK = 100                 # faces drawn together: enough to amortise NumPy calls, canvases stay in cache


def _supersampling(size: int) -> int:
    # Draw at ≥128 px and box-downsample: anti-aliasing that keeps sub-pixel AU motion visible.
    return max(2, -(-128 // size))


def _check_size(size) -> int:
    if not MIN_SIZE <= int(size) <= MAX_SIZE:
        raise ConfigError(f"SynthFace image size {size} is outside {MIN_SIZE}..{MAX_SIZE}; pick e.g. 64 or 112")
    return int(size)


def render_face(params: FaceParams, size: int = 64) -> np.ndarray:
    """Render one face as an (size, size, 3) uint8 array; the same params give the same bytes."""
    return render_faces([params], size)[0]


def render_faces(params: Sequence[FaceParams], size: int = 64) -> np.ndarray:
    """Render faces as a (B, size, size, 3) uint8 array; each the same as `render_face` gives."""
    size = _check_size(size)
    out = np.empty((len(params), size, size, 3), np.uint8)
    for start in range(0, len(params), BLOCK):
        out[start:start + BLOCK] = _render_block(FaceBatch(params[start:start + BLOCK]), size)
    return out


def _draw(cv: Canvas, batch: FaceBatch) -> None:
    """Every part in drawing order (later parts cover earlier ones)."""
    face_parts.draw_body(cv, batch)
    face_parts.draw_face_base(cv, batch)
    au_parts.draw_nose(cv, batch)
    au_parts.draw_eyes(cv, batch)
    au_parts.draw_brows(cv, batch)
    lips = np.where(batch.wear.lipstick[:, None], np.array(LIPSTICK, float), batch.shape.lip_color)
    au_parts.draw_mouth(cv, batch, lips)
    face_parts.draw_hair(cv, batch)
    face_parts.draw_glasses(cv, batch)
    face_parts.draw_occluder(cv, batch)


def _render_block(batch: FaceBatch, size: int) -> np.ndarray:
    ss = _supersampling(size)
    n = size * ss
    cv = Canvas(n, batch.pose)
    _draw(cv, batch)
    # Box-downsample every canvas at once: stacked vertically they form one tall image whose
    # ss × ss blocks never straddle two faces.
    small = cv2.resize(cv.images.reshape(batch.size * n, n, 3), (size, batch.size * size),
                       interpolation=cv2.INTER_AREA)
    arr = small.reshape(batch.size, size, size, 3).astype(np.float32)
    light = batch.light
    for b, blur in enumerate(light.blur):
        if blur * size / 64.0 > 0.2:
            arr[b] = cv2.GaussianBlur(arr[b], (0, 0), blur * size / 64.0)
    _photometric(arr, light, size)
    return arr.astype(np.uint8)  # truncation: the +0.5 of `_photometric` rounds


NOISE_BANK = 4              # the noise field is this many image sides wide


@lru_cache(maxsize=8)
def _axis(size: int) -> np.ndarray:
    return np.linspace(-1.0, 1.0, size, dtype=np.float32)


@lru_cache(maxsize=8)
def _noise_fields(size: int) -> tuple[np.ndarray, np.ndarray]:
    # A fixed field of unit Gaussian noise, and the same upside down; each image reads its own
    # window, chosen by its noise seed. Drawing 12k fresh normals per image costs more than
    # drawing the face. (The flipped copy keeps every window a positive-stride view for OpenCV.)
    rng = np.random.default_rng(20240607)
    field = rng.standard_normal((NOISE_BANK * size, NOISE_BANK * size, 3), dtype=np.float32)
    return field, np.ascontiguousarray(field[::-1])


def _noise(size: int, seed: int) -> np.ndarray:
    field, flipped = _noise_fields(size)
    span = field.shape[0] - size
    y, x = divmod(seed % (span * span), span)
    if seed & 1 << 30:  # a vertical flip doubles the windows
        return flipped[span - y:span - y + size, x:x + size]
    return field[y:y + size, x:x + size]


def _column(values) -> np.ndarray:
    return np.array(values, np.float32).reshape(-1, 1, 1)


def _photometric(arr: np.ndarray, light, size: int) -> None:
    """Contrast, brightness, a directional light gradient and sensor noise, in place on
    (B, size, size, 3) float32 images; clipped to 0..255 and offset by 0.5 for rounding.

    value' = ((value - 128) * contrast + 128) * gain + noise with gain = brightness *
    (1 + gx * x + gy * y): a row term plus a column term, so each factor is built from a (B, s, 1)
    and a (B, 1, 3s) array (broadcasting along contiguous rows, which NumPy does fast).
    """
    batch = len(arr)
    axis = _axis(size)
    across = np.repeat(axis, 3)[None, None, :]                    # x of each value in a row
    bright, contrast = _column(light.brightness), _column(light.contrast)
    gx, gy = _column(light.gx) * bright, _column(light.gy) * bright  # (B, 1, 1)
    rows = bright + gy * axis[None, :, None]                      # gain = rows + gx * across
    flat = arr.reshape(batch, size, 3 * size)
    flat *= contrast * rows + (contrast * gx) * across
    offset = 128.0 * (1.0 - contrast)
    flat += (offset * rows + 0.5) + (offset * gx) * across
    for b, (amount, seed) in enumerate(zip(light.noise, light.noise_seed)):
        if amount > 0:
            cv2.scaleAdd(_noise(size, seed), amount, arr[b], dst=arr[b])  # one pass: noise × amount + image
    np.clip(arr, 0, 255, out=arr)
