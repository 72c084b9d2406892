"""Drawing in canonical face units: pose transform, polygons, curves and colour helpers."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from facebehavior.data.synthface.params import Nuisance

UNIT = 0.40                 # one canonical unit as a fraction of the image side (scale 1)
CENTER = (0.50, 0.52)       # face centre as a fraction of the image side
YAW_SHIFT = 0.30            # how far a feature of depth 1 moves sideways at yaw 1
YAW_SQUASH = 0.22           # horizontal foreshortening at yaw ±1

_ANGLES = np.linspace(0.0, 2.0 * math.pi, 28, endpoint=False)
_CIRCLE = np.column_stack((np.cos(_ANGLES), np.sin(_ANGLES)))

Color = tuple[int, int, int]


def canonical_to_pixel(x: float, y: float, size: int) -> tuple[float, float]:
    """Pixel position of a canonical point on an unposed face (scale 1, no shift)."""
    return (CENTER[0] + UNIT * x) * size, (CENTER[1] + UNIT * y) * size


def mix(a: Color, b: Color, t: float) -> Color:
    """Linear blend a→b; PIL draws opaque, so faint marks are drawn in a blended colour."""
    t = min(max(t, 0.0), 1.0)
    return (int(a[0] + (b[0] - a[0]) * t + 0.5), int(a[1] + (b[1] - a[1]) * t + 0.5),
            int(a[2] + (b[2] - a[2]) * t + 0.5))


def shade(c: Color, k: float) -> Color:
    return (min(255, int(c[0] * k + 0.5)), min(255, int(c[1] * k + 0.5)), min(255, int(c[2] * k + 0.5)))


def ellipse_points(x: float, y: float, rx: float, ry: float, angle: float = 0.0) -> np.ndarray:
    pts = _CIRCLE * (rx, ry)
    if angle:
        c, s = math.cos(angle), math.sin(angle)
        pts = pts @ np.array([[c, s], [-s, c]])
    pts += (x, y)
    return pts


@lru_cache(maxsize=None)
def _bezier_weights(n: int) -> np.ndarray:
    # Rows: weights of (p0, p1, p2) for a quadratic Bézier whose *midpoint* is p1.
    t = np.linspace(0.0, 1.0, n)
    b0, b1, b2 = (1 - t) ** 2, 2 * (1 - t) * t, t ** 2
    return np.column_stack((b0 - 0.5 * b1, 2.0 * b1, b2 - 0.5 * b1))


def bezier(p0, p1, p2, n: int = 9) -> np.ndarray:
    """Quadratic Bézier through p0 and p2 whose midpoint is p1 (not a control point)."""
    return _bezier_weights(n) @ np.array((p0, p1, p2), float)


def thick_curve(centre: np.ndarray, thickness: np.ndarray) -> np.ndarray:
    """Polygon of a stroke with per-point thickness along a centre line."""
    d = np.empty_like(centre)  # central differences (np.gradient is slow on tiny arrays)
    d[1:-1] = centre[2:] - centre[:-2]
    d[0], d[-1] = centre[1] - centre[0], centre[-1] - centre[-2]
    normal = np.column_stack((-d[:, 1], d[:, 0]))
    normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-9
    half = 0.5 * np.asarray(thickness)[:, None] * normal
    return np.vstack((centre + half, (centre - half)[::-1]))


class Canvas:
    """A supersampled RGB image that draws canonical shapes through the pose transform.

    `depth` says how far a feature stands out of the face plane (nose 1, eyes 0.5, outline 0,
    ears negative): under yaw, deeper features move further sideways.
    """

    def __init__(self, n: int, nuisance: Nuisance):
        self.image = Image.new("RGB", (n, n), tuple(nuisance.background))
        self.draw = ImageDraw.Draw(self.image)
        self.unit = UNIT * n * nuisance.scale
        roll = math.radians(nuisance.roll)
        c, s = math.cos(roll) * self.unit, math.sin(roll) * self.unit
        squash = 1.0 - YAW_SQUASH * abs(nuisance.yaw)
        # canonical (x, y) → pixels: squash x, rotate, scale; `_shift` adds the yaw depth offset
        self._matrix = np.array([[c * squash, s * squash], [-s, c]])
        self._centre = ((CENTER[0] + nuisance.shift[0]) * n, (CENTER[1] + nuisance.shift[1]) * n)
        self._yaw_step = (c * nuisance.yaw * YAW_SHIFT, s * nuisance.yaw * YAW_SHIFT)

    def xy(self, pts, depth: float = 0.0) -> list[float]:
        out = np.asarray(pts, float).dot(self._matrix)
        out += (self._centre[0] + self._yaw_step[0] * depth, self._centre[1] + self._yaw_step[1] * depth)
        return out.ravel().tolist()

    def polygon(self, pts, fill: Color, depth: float = 0.0) -> None:
        self.draw.polygon(self.xy(pts, depth), fill=fill)

    def line(self, pts, fill: Color, width: float, depth: float = 0.0) -> None:
        px = max(1, int(round(width * self.unit)))
        self.draw.line(self.xy(pts, depth), fill=fill, width=px, joint="curve" if px > 2 else None)

    def ellipse(self, x, y, rx, ry, fill: Color, depth: float = 0.0, angle: float = 0.0) -> None:
        self.polygon(ellipse_points(x, y, rx, ry, angle), fill, depth)
