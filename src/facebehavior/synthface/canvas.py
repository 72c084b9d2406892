"""Drawing in canonical face units for a batch of faces: pose transform, shapes, colours.

Geometry is vectorised over the batch: a per-face number is a (B, 1) column (see `FaceBatch`),
a shape is a (B, n, 2) array of canonical points (or (1, n, 2) when it is the same for every
face). Only elementwise NumPy arithmetic is used on per-face values (no BLAS, no SIMD
transcendental functions), so each face's pixels do not depend on the batch it is drawn in.
`Canvas` transforms a shape once for the whole batch, then fills it into each face's image with
OpenCV (fixed-point vertices, 1/16 px) on a supersampled canvas.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

UNIT = 0.40                 # one canonical unit as a fraction of the image side (scale 1)
CENTER = (0.50, 0.52)       # face centre as a fraction of the image side
YAW_SHIFT = 0.30            # how far a feature of depth 1 moves sideways at yaw 1
YAW_SQUASH = 0.22           # horizontal foreshortening at yaw ±1
SHIFT_BITS = 4              # OpenCV vertices in fixed point: 1/16 px
_ONE = float(1 << SHIFT_BITS)
STROKE_INSET = 0.5          # px: OpenCV fills the pixels a polygon edge touches, which widens a stroke

_ANGLES = np.linspace(0.0, 2.0 * math.pi, 28, endpoint=False)
_COS, _SIN = np.cos(_ANGLES), np.sin(_ANGLES)

Color = tuple[int, int, int]


def mix(a: Color, b: Color, t: float) -> Color:
    """Linear blend a→b of two colours (used when sampling identities)."""
    t = min(max(t, 0.0), 1.0)
    return (int(a[0] + (b[0] - a[0]) * t + 0.5), int(a[1] + (b[1] - a[1]) * t + 0.5),
            int(a[2] + (b[2] - a[2]) * t + 0.5))


def blend(a, b, t) -> np.ndarray:
    """`mix` for batches: (B, 3) or (3,) colours, t a number or a (B, 1) column; integer values.
    Shapes are drawn opaque, so faint marks are drawn in a blended colour."""
    t = np.clip(t, 0.0, 1.0)
    a = np.asarray(a, float)
    return np.floor(a + (np.asarray(b, float) - a) * t + 0.5)


def shade(c, k: float) -> np.ndarray:
    """A colour (or (B, 3) colours) darkened (k < 1) or lightened, with integer values."""
    return np.minimum(255.0, np.floor(np.asarray(c, float) * k + 0.5))


def _batch(value) -> int:
    """Rows of a per-face value: B for a (B, ...) array, 1 for a number."""
    return value.shape[0] if isinstance(value, np.ndarray) and value.ndim > 1 else 1


def points(*pairs) -> np.ndarray:
    """(B, n, 2) points from n (x, y) pairs whose entries are numbers or (B, 1) columns."""
    out = np.empty((max(_batch(v) for pair in pairs for v in pair), len(pairs), 2))
    for i, (x, y) in enumerate(pairs):  # (slice assignments broadcast in C: cheaper than np.stack)
        out[:, i:i + 1, 0] = x
        out[:, i:i + 1, 1] = y
    return out


def curve(x, y) -> np.ndarray:
    """(B, n, 2) points from x and y arrays that broadcast to (B, n) (or to (n,): B = 1)."""
    out = np.empty(np.broadcast(x, y).shape + (2,))
    out[..., 0] = x
    out[..., 1] = y
    return out if out.ndim == 3 else out[None]


def join(*parts: np.ndarray) -> np.ndarray:
    """Concatenate (B, n_i, 2) point arrays along the points, broadcasting the batch."""
    out = np.empty((max(p.shape[0] for p in parts), sum(p.shape[1] for p in parts), 2))
    start = 0
    for p in parts:
        out[:, start:start + p.shape[1]] = p
        start += p.shape[1]
    return out


def reverse(pts: np.ndarray) -> np.ndarray:
    return pts[:, ::-1]


def ellipse_points(x, y, rx, ry, cos=None, sin=None) -> np.ndarray:
    """(B, 28, 2) points of ellipses, optionally rotated by an angle given as its cos and sin."""
    px, py = _COS * np.asarray(rx, float), _SIN * np.asarray(ry, float)
    if cos is not None:
        px, py = px * cos - py * sin, px * sin + py * cos
    return curve(px + x, py + y)


@lru_cache(maxsize=None)
def _bezier_weights(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # weights of (p0, p1, p2) for a quadratic Bézier whose *midpoint* is p1
    t = np.linspace(0.0, 1.0, n)
    b0, b1, b2 = (1 - t) ** 2, 2 * (1 - t) * t, t ** 2
    return b0 - 0.5 * b1, 2.0 * b1, b2 - 0.5 * b1


def bezier(p0, p1, p2, n: int = 9) -> np.ndarray:
    """(B, n, 2) quadratic Bézier through p0 and p2 whose midpoint is p1 (not a control point)."""
    w0, w1, w2 = _bezier_weights(n)
    x = w0 * np.asarray(p0[0], float) + w1 * np.asarray(p1[0], float) + w2 * np.asarray(p2[0], float)
    y = w0 * np.asarray(p0[1], float) + w1 * np.asarray(p1[1], float) + w2 * np.asarray(p2[1], float)
    return curve(x, y)


def thick_curve(centre: np.ndarray, thickness) -> np.ndarray:
    """(B, 2n, 2) polygon of a stroke with per-point thickness ((n,) or (B, n)) along a centre line."""
    d = np.empty_like(centre)  # central differences along the points
    d[:, 1:-1] = centre[:, 2:] - centre[:, :-2]
    d[:, 0], d[:, -1] = centre[:, 1] - centre[:, 0], centre[:, -1] - centre[:, -2]
    dx, dy = d[..., 0], d[..., 1]
    half = 0.5 * np.asarray(thickness, float) / (np.sqrt(dx * dx + dy * dy) + 1e-9)
    normal = curve(-dy * half, dx * half)
    return join(centre + normal, reverse(centre - normal))


def _rows(where, batch: int):
    return range(batch) if where is None else np.flatnonzero(np.asarray(where).ravel()).tolist()


def _per_face(color, batch: int) -> list:
    """One OpenCV colour (a list of ints) per face from a colour or (B, 3) colours."""
    color = np.asarray(color, float).reshape(-1, 3).astype(int).tolist()
    return color if len(color) == batch else color * batch


def _fixed(pixels: np.ndarray) -> np.ndarray:
    pixels = pixels * _ONE
    return np.rint(pixels, out=pixels).astype(np.int32)


class Canvas:
    """B supersampled RGB images that draw canonical shapes through each face's pose transform.

    `depth` says how far a feature stands out of the face plane (nose 1, eyes 0.5, outline 0,
    ears negative): under yaw, deeper features move further sideways.
    """

    def __init__(self, n: int, pose):
        batch = len(pose.background)
        self.images = np.empty((batch, n, n, 3), np.uint8)
        # one background row per face, copied down the image (a contiguous, fast broadcast)
        rows = np.tile(np.array(pose.background, np.uint8), (1, n))
        self.images.reshape(batch, n, n * 3)[:] = rows[:, None, :]
        self.views = list(self.images)  # each a contiguous (n, n, 3) view OpenCV draws into
        self.batch = batch
        self.unit = UNIT * n * pose.scale                         # (B, 1) pixels per canonical unit
        c, s = pose.cos * self.unit, pose.sin * self.unit
        squash = 1.0 - YAW_SQUASH * np.abs(pose.yaw)
        # canonical (x, y) → pixels: squash x, rotate, scale, move to the centre; depth shifts under yaw
        self._xx, self._yx, self._xy, self._yy = c * squash, -s, s * squash, c
        # the image spans [0, n) and OpenCV samples pixel k at k, its centre is k + 0.5: hence -0.5
        self._cx, self._cy = (CENTER[0] + pose.shift_x) * n - 0.5, (CENTER[1] + pose.shift_y) * n - 0.5
        self._yaw_x, self._yaw_y = c * pose.yaw * YAW_SHIFT, s * pose.yaw * YAW_SHIFT

    def xy(self, pts: np.ndarray, depth: float = 0.0, fixed: bool = True) -> np.ndarray:
        """(B, n, 2) pixel positions of canonical points: int32 fixed point, or float if not `fixed`."""
        x, y = pts[..., 0], pts[..., 1]
        pixels = np.empty(np.broadcast(x, self._xx).shape + (2,))
        pixels[..., 0] = x * self._xx + y * self._yx + (self._cx + self._yaw_x * depth)
        pixels[..., 1] = x * self._xy + y * self._yy + (self._cy + self._yaw_y * depth)
        return _fixed(pixels) if fixed else pixels

    def _parts(self, shapes, depth: float, fixed: bool = True) -> list[np.ndarray]:
        """Pixel positions of a shape, or of a list of shapes transformed in one go."""
        if isinstance(shapes, np.ndarray):
            return [self.xy(shapes, depth, fixed)]
        pixels = self.xy(join(*shapes), depth, fixed)
        ends = np.cumsum([shape.shape[1] for shape in shapes]).tolist()
        return [pixels[:, a:b] for a, b in zip([0] + ends[:-1], ends)]

    def polygon(self, shapes, fill, depth: float = 0.0, where=None) -> None:
        """Fill a polygon ((B, n, 2) points), or several that do not overlap (a list, one OpenCV
        call), on the faces selected by `where` ((B,) or (B, 1) booleans; all if None)."""
        parts = self._parts(shapes, depth)
        colors, views = _per_face(fill, self.batch), self.views
        if len(parts) == 1:
            pix = parts[0]
            for b in _rows(where, self.batch):
                cv2.fillPoly(views[b], [pix[b]], colors[b], cv2.LINE_8, SHIFT_BITS)
        else:
            for b in _rows(where, self.batch):
                cv2.fillPoly(views[b], [p[b] for p in parts], colors[b], cv2.LINE_8, SHIFT_BITS)

    def line(self, shapes, fill, width, depth: float = 0.0, where=None) -> None:
        """A polyline (or a list of them) `width` canonical units wide (a number or a (B, 1)
        column), at least 1 px.

        OpenCV's thick lines only come in odd widths (2 px comes out as 3), so a line 2 px or
        more wide on the supersampled canvas is filled as a stroke polygon instead; the curves
        SynthFace draws that wide are smooth, which such a polygon needs.
        """
        floats = self._parts(shapes, depth, fixed=False)
        parts = [_fixed(p) for p in floats]
        colors, views = _per_face(fill, self.batch), self.views
        px = np.maximum(1.0, np.rint(np.asarray(width, float) * self.unit))
        wide = px > 1
        strokes = [_fixed(thick_curve(p, px - STROKE_INSET)) for p in floats] if wide.any() else []
        wide = np.broadcast_to(wide, (self.batch, 1)).ravel().tolist()
        for b in _rows(where, self.batch):
            if wide[b]:
                for stroke in strokes:  # one call each: strokes of a list may cross
                    cv2.fillPoly(views[b], [stroke[b]], colors[b], cv2.LINE_8, SHIFT_BITS)
            else:
                cv2.polylines(views[b], [p[b] for p in parts], False, colors[b], 1, cv2.LINE_8, SHIFT_BITS)

    def ellipse(self, x, y, rx, ry, fill, depth: float = 0.0, where=None) -> None:
        self.polygon(ellipse_points(x, y, rx, ry), fill, depth, where)
