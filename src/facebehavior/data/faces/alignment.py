"""5-point face alignment with a similarity transform onto the ArcFace/InsightFace template.

The paper aligns faces from 5 detected landmarks and resizes the crops to 112×112. We use the
standard InsightFace template for 112×112 crops (the 96×112 template of SphereFace shifted right
by 8 px), scaled uniformly for other output sizes.
"""

from __future__ import annotations

import cv2
import numpy as np

ARCFACE_TEMPLATE_112 = np.array([
    [38.2946, 51.6963],  # eye on the image's left
    [73.5318, 51.5014],  # eye on the image's right
    [56.0252, 71.7366],  # nose tip
    [41.5493, 92.3655],  # mouth corner on the image's left
    [70.7299, 92.2041],  # mouth corner on the image's right
])


def template(size: int = 112) -> np.ndarray:
    """The 5-point template for a square crop of `size` pixels."""
    return ARCFACE_TEMPLATE_112 * (size / 112.0)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares rotation + uniform scale + translation mapping `src` onto `dst` (Umeyama 1991).

    Returns the 2×3 matrix for `cv2.warpAffine`. Reflections are excluded, so a mirrored set of
    points is fitted with a proper rotation rather than flipped.
    """
    src = np.asarray(src, np.float64).reshape(-1, 2)
    dst = np.asarray(dst, np.float64).reshape(-1, 2)
    if src.shape != dst.shape or len(src) < 2:
        raise ValueError(f"need matching point sets of at least 2 points, got {src.shape} and {dst.shape}")
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    src_var = (src_c ** 2).sum() / len(src)
    if src_var <= 0:
        raise ValueError("landmarks are all at one point; cannot fit a transform")
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1] = -1
    rotation = u @ np.diag(sign) @ vt
    scale = (s * sign).sum() / src_var
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix


def align_face(image: np.ndarray, landmarks, size: int = 112, points: np.ndarray | None = None) -> np.ndarray:
    """Warp `image` so the five `landmarks` (5, 2) land on `points`, the template in pixels of a
    `size`×`size` crop (default: the ArcFace template; a model's own is `Preprocessing.template()`)."""
    landmarks = np.asarray(landmarks, np.float64).reshape(5, 2)
    if not np.isfinite(landmarks).all():
        raise ValueError(f"landmarks contain non-finite values: {landmarks.tolist()}")
    matrix = similarity_transform(landmarks, template(size) if points is None else points)
    scale = float(np.hypot(*matrix[:, 0]))
    if scale < 0.5:
        # warpAffine samples without low-pass filtering, so shrinking a big face aliases; blur
        # only the source region the crop comes from (cheap even on large video frames).
        image, matrix = _blurred_source_region(image, matrix, size, sigma=(1.0 / scale - 1.0) / 2.0)
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _blurred_source_region(image: np.ndarray, matrix: np.ndarray, size: int, sigma: float):
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], np.float64)
    src = corners @ inverse.T
    margin = int(np.ceil(3 * sigma)) + 2
    h, w = image.shape[:2]
    x0, y0 = (max(0, int(np.floor(v)) - margin) for v in src.min(0))
    x1, y1 = (int(np.ceil(v)) + margin for v in src.max(0))
    x1, y1 = min(w, x1), min(h, y1)
    if x1 <= x0 or y1 <= y0:  # the crop lies outside the image: nothing to blur
        return image, matrix
    region = cv2.GaussianBlur(image[y0:y1, x0:x1], (0, 0), sigma)
    shifted = matrix.copy()
    shifted[:, 2] += matrix[:, :2] @ np.array([x0, y0], np.float64)
    return region, shifted


def resize_aligned(image: np.ndarray, size: int = 112) -> np.ndarray:
    """An already aligned crop brought to `size`×`size` (area interpolation when shrinking)."""
    h, w = image.shape[:2]
    if (h, w) == (size, size):
        return image
    interp = cv2.INTER_AREA if min(h, w) > size else cv2.INTER_CUBIC
    return cv2.resize(image, (size, size), interpolation=interp)
