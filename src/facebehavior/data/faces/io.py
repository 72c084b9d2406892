"""Reading and writing images as RGB uint8 arrays, with reasons a report can count."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


class ImageReadError(Exception):
    """An image that cannot be used; `reason` is a short key for reports (``missing_file``, ...)."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


def decode_image(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Encoded bytes (PNG, JPEG, BMP, WebP, ...) as an RGB uint8 (H, W, 3) array; gray is expanded."""
    array = np.frombuffer(data, np.uint8)
    # EXIF orientation is ignored: database boxes and landmarks refer to the stored pixel grid
    # (as PIL and most annotation tools read it), not to the rotated view.
    flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    image = cv2.imdecode(array, flags) if array.size else None
    if image is None:
        raise ImageReadError("unreadable_image", f"{source}: not a decodable image ({len(data)} bytes)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_image(path: str | Path) -> np.ndarray:
    """The image at `path` as RGB uint8, or `ImageReadError` saying why not."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ImageReadError("missing_file", f"{path}: file not found") from None
    except OSError as exc:
        raise ImageReadError("unreadable_file", f"{path}: {exc}") from None
    return decode_image(data, str(path))


def encode_image(image: np.ndarray, fmt: str = "png", jpeg_quality: int = 95) -> bytes:
    """An RGB (or gray) uint8 array as PNG or JPEG bytes."""
    fmt = fmt.lower().lstrip(".")
    bgr = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if fmt in ("jpg", "jpeg") else []
    ok, buf = cv2.imencode(f".{fmt}", bgr, params)
    if not ok:
        raise ValueError(f"OpenCV cannot encode an image as {fmt!r}")
    return buf.tobytes()

