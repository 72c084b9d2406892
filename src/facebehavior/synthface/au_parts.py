"""The parts of the face that action units move: brows, eyes, nose, mouth and chin.

Each AU's geometric effect follows its FACS description (see docs/synthface.md for the table).
Magnitudes are in canonical units at intensity 1 (one unit ≈ 26 px at 64×64); the "subtle"
AUs (7, 14, 23, 24) have deliberately small effects, as in real data. Every function draws a
whole `FaceBatch`: per-face values are (B, 1) columns (see `canvas`).
"""

from __future__ import annotations

import numpy as np

from facebehavior.synthface.batch import FaceBatch
from facebehavior.synthface.canvas import (
    Canvas, bezier, blend, curve, ellipse_points, join, points, reverse, shade, thick_curve,
)

LASH = (35, 25, 25)
SCLERA = (238, 236, 230)
PUPIL = (15, 10, 10)
MOUTH_INSIDE = (70, 25, 30)
TEETH = (235, 230, 220)
_T_EYE = np.linspace(-1.0, 1.0, 13)
_T_MOUTH = np.linspace(-1.0, 1.0, 17)
_BROW_TAPER = np.linspace(1.15, 0.55, 9)
_EYE_ARCH = (1.0 - _T_EYE ** 2) ** 0.7
_EYE_BOWL = (1.0 - _T_EYE ** 2) ** 0.9
# lip profiles along the mouth (t = -1 .. 1)
_BUMP = 1.0 - _T_MOUTH * _T_MOUTH
_CORNER_RISE = np.abs(_T_MOUTH) ** 2.2
_PART = _BUMP ** 0.7
_RAISE = _BUMP ** 1.5
_LIP = _BUMP ** 0.5
_CUPID = _LIP * (1.0 - 0.3 * np.exp(-(_T_MOUTH / 0.12) ** 2))


FAINT = 0.05                  # a fold lighter than this blend is invisible after downsampling
SIDES = (-1.0, 1.0)           # the face's right and left half (image left and right)


def _wrinkle(cv: Canvas, p: FaceBatch, strength, pts, width: float = 0.014, depth: float = 0.5) -> None:
    """Skin folds (a curve or a list of curves) whose darkness grows with `strength` ((B, 1));
    drawn where they show."""
    shown = strength > FAINT
    if shown.any():
        cv.line(pts, blend(p.shape.skin, shade(p.shape.skin, 0.45), strength), width, depth, shown)


def draw_brows(cv: Canvas, p: FaceBatch) -> None:
    """AU1 raises the inner ends, AU2 the outer ends, AU4 lowers and knits the brows.

    Both halves of the face are drawn in one call per part (they never overlap)."""
    f = p.shape
    a1, a2, a4 = p.au(1), p.au(2), p.au(4)
    color = blend(f.hair_color, (20, 15, 10), 0.35)
    thickness = f.brow_thick * _BROW_TAPER * (1.0 + 0.15 * a4)
    brows = []
    for side in SIDES:
        inner = (side * (0.09 - 0.035 * a4), f.brow_y + 0.01 - 0.11 * a1 + 0.08 * a4)
        mid = (side * (0.25 - 0.015 * a4), f.brow_y - f.brow_arch - 0.045 * a1 - 0.06 * a2 + 0.05 * a4)
        outer = (side * 0.45, f.brow_y + 0.03 - 0.10 * a2 + 0.03 * a4)
        brows.append(thick_curve(bezier(inner, mid, outer), thickness))
    cv.polygon(brows, color, depth=0.45)
    for dy in (0.17, 0.26):  # horizontal forehead lines: central for AU1, lateral for AU2
        y = f.brow_y - dy
        _wrinkle(cv, p, 0.55 * a1 + 0.15 * f.age, bezier((-0.16, y), (0.0, y - 0.015), (0.16, y), 5))
        _wrinkle(cv, p, 0.5 * a2 + 0.15 * f.age,
                 [bezier((side * 0.2, y - 0.01), (side * 0.32, y - 0.02), (side * 0.44, y), 5) for side in SIDES])
    # vertical glabella lines of the knitted brow
    _wrinkle(cv, p, 0.75 * a4, [points((side * 0.035, f.brow_y - 0.07), (side * 0.045, f.brow_y + 0.05))
                                for side in SIDES], 0.016)


def _eye_curves(p: FaceBatch, side: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Upper lid, lower lid and crease as (B, 13, 2) point arrays, inner corner first."""
    f = p.shape
    a5, a6, a7 = p.au(5), p.au(6), p.au(7)
    up = f.eye_h * (1.0 + 1.0 * a5 - 0.25 * a7 - 0.15 * a6)
    low = f.eye_h * (0.75 - 0.45 * a7 - 0.30 * a6)
    x = side * (f.eye_dx + f.eye_w * _T_EYE)
    tilt = f.eye_y - 0.012 * _T_EYE
    return curve(x, tilt - up * _EYE_ARCH), curve(x, tilt + low * _EYE_BOWL), \
        curve(x, tilt - f.eye_h * _EYE_ARCH - 0.045)


def draw_eyes(cv: Canvas, p: FaceBatch) -> None:
    """AU5 raises the upper lid; AU6 lifts the cheek (fold under the eye, crow's feet, lower
    lid up); AU7 tightens the lids (lower lid raised and straightened, a little narrower).

    Each part is drawn for both eyes in one call (the eyes never overlap)."""
    f = p.shape
    a6, a7 = p.au(6), p.au(7)
    ey, r = f.eye_y, f.eye_h * 1.1
    parts: dict[str, list] = {k: [] for k in ("sclera", "iris", "pupil", "upper_lid", "lower_lid", "crease", "lash",
                                              "lower", "fold", "crow")}
    for side in SIDES:
        upper, lower, crease = _eye_curves(p, side)
        ex = side * f.eye_dx
        parts["sclera"].append(join(upper, reverse(lower)))
        parts["iris"].append(ellipse_points(ex, ey - 0.004, r, r))
        parts["pupil"].append(ellipse_points(ex, ey - 0.004, 0.45 * r, 0.45 * r))
        # skin lids drawn over the iris clip it to the opening
        x0, x1, pad = upper[:, 0, 0:1], upper[:, -1, 0:1], side * 0.03
        parts["upper_lid"].append(join(upper, points((x1 + pad, ey - 0.2), (x0 - pad, ey - 0.2))))
        parts["lower_lid"].append(join(lower, points((x1 + pad, ey + 0.16), (x0 - pad, ey + 0.16))))
        parts["crease"].append(crease[:, 2:-2])
        parts["lash"].append(upper)
        parts["lower"].append(lower)
        # AU6: the raised cheek folds under the eye and wrinkles the outer corner
        fold_y = ey + 0.15 - 0.05 * a6
        parts["fold"].append(bezier((ex - side * 0.1, fold_y - 0.02), (ex + side * 0.03, fold_y + 0.01),
                                    (ex + side * 0.17, fold_y - 0.04), 7))
        cx, reach = ex + side * (f.eye_w + 0.03), 0.02 + 0.07 * a6
        parts["crow"].append(points(  # crow's feet: three rays from the outer corner
            (cx + side * reach * 0.9, ey - reach * 0.43), (cx, ey), (cx + side * reach, ey), (cx, ey),
            (cx + side * reach * 0.9, ey + reach * 0.43)))
    cv.polygon(parts["sclera"], SCLERA, 0.5)
    cv.polygon(parts["iris"], f.iris, 0.5)
    cv.polygon(parts["pupil"], PUPIL, 0.5)
    cv.polygon(parts["upper_lid"], f.skin, 0.5)
    cv.polygon(parts["lower_lid"], f.skin, 0.5)
    cv.line(parts["crease"], shade(f.skin, 0.8), 0.012, 0.5)
    cv.line(parts["lash"], LASH, 0.024, 0.5)
    cv.line(parts["lower"], blend(f.skin, LASH, 0.35 + 0.3 * a7), 0.012 + 0.01 * a7, 0.5)
    _wrinkle(cv, p, 0.6 * a6 + 0.15 * f.age, parts["fold"], 0.018)
    _wrinkle(cv, p, 0.65 * a6, parts["crow"], 0.012)


def draw_nose(cv: Canvas, p: FaceBatch) -> None:
    """AU9 wrinkles the bridge and lifts and widens the nostrils."""
    f = p.shape
    a9 = p.au(9)
    ny, nw = f.nose_y - 0.035 * a9, f.nose_w * (1.0 + 0.25 * a9)
    cv.line([points((side * 0.055, f.eye_y + 0.04), (side * 0.065, ny - 0.09)) for side in SIDES],
            shade(f.skin, 0.85), 0.018, 0.8)
    base = points((-nw, ny - 0.03), (-0.9 * nw, ny + 0.02), (-0.03, ny + 0.035), (0.0, ny + 0.025),
                  (0.03, ny + 0.035), (0.9 * nw, ny + 0.02), (nw, ny - 0.03))
    cv.line(base, shade(f.skin, 0.65), 0.018, 1.0)
    cv.polygon([ellipse_points(side * 0.045 * (1 + 0.2 * a9), ny + 0.008, 0.024 * (1 + 0.35 * a9),
                               0.012 * (1 + 0.3 * a9)) for side in SIDES], shade(f.skin, 0.35), 0.95)
    rows = (f.eye_y + 0.05 + 0.05 * k for k in range(3))
    bridge = [points((-0.07, y + 0.01), (0.0, y), (0.07, y + 0.01)) for y in rows]
    _wrinkle(cv, p, 0.75 * a9, bridge, 0.014, 0.8)
    _wrinkle(cv, p, 0.6 * a9, [points((side * 0.08, ny - 0.13), (side * 0.12, ny - 0.07)) for side in SIDES],
             0.014, 0.8)


def mouth_curves(p: FaceBatch):
    """x and the four lip contours (upper outer, upper inner, lower inner, lower outer), (B, 17) each."""
    f = p.shape
    a = {n: p.au(n) for n in (10, 12, 14, 15, 17, 20, 23, 24, 25, 26)}
    width = f.mouth_w * (1.0 + 0.22 * a[20] + 0.14 * a[12] - 0.10 * a[23] - 0.08 * a[14] - 0.06 * a[24])
    corner = -0.085 * a[12] + 0.075 * a[15] - 0.012 * a[14] + 0.012 * a[20]  # + = down
    gap = 0.035 * a[25] + 0.13 * a[26]
    centre = f.mouth_y + corner * _CORNER_RISE - 0.03 * a[17] * _BUMP
    upper_in = centre - 0.5 * gap * _PART - 0.045 * a[10] * _RAISE
    lower_in = centre + 0.5 * gap * _PART
    t_up = f.lip_up * (1.0 - 0.45 * a[23] - 0.55 * a[24])
    t_low = f.lip_low * (1.0 - 0.40 * a[23] - 0.50 * a[24] + 0.15 * a[17])
    upper_out = upper_in - t_up * _CUPID
    lower_out = lower_in + t_low * _LIP
    return width * _T_MOUTH, upper_out, upper_in, lower_in, lower_out


def draw_mouth(cv: Canvas, p: FaceBatch, lip_color) -> None:
    """AU10 raises the upper lip, 12 pulls the corners up, 14 dimples, 15 pulls the corners
    down, 17 pushes the chin and lower lip up, 20 stretches, 23 tightens, 24 presses,
    25 parts the lips, 26 drops the jaw."""
    f = p.shape
    x, up_out, up_in, low_in, low_out = mouth_curves(p)
    _draw_folds(cv, p, x, up_in)
    is_open = (low_in - up_in > 1e-3).any(axis=1)
    if is_open.any():
        cv.polygon(join(curve(x, up_in), reverse(curve(x, low_in))), MOUTH_INSIDE, 0.6, is_open)
        teeth = slice(3, -3)
        bottom = np.minimum(up_in + 0.035, low_in)
        cv.polygon(join(curve(x[:, teeth], up_in[:, teeth]), reverse(curve(x[:, teeth], bottom[:, teeth]))),
                   TEETH, 0.6, is_open)
    if not is_open.all():
        a24 = p.au(24)
        cv.line(curve(x, up_in), blend(lip_color, LASH, 0.5 + 0.3 * a24), 0.012 * (1 + a24), 0.6, ~is_open)
    cv.polygon(join(curve(x, up_out), reverse(curve(x, up_in))), lip_color, 0.6)
    cv.polygon(join(curve(x, low_in), reverse(curve(x, low_out))), lip_color, 0.6)
    cv.line(curve(x[:, 4:-4], low_out[:, 4:-4] + 0.012), shade(f.skin, 0.82), 0.014, 0.6)
    _draw_press_and_chin(cv, p, x, up_out, low_out)
    if p.wear.mustache.any():
        xs, top = 1.15 * x[:, 1:-1], up_out[:, 1:-1]  # a moustache band that follows the upper lip
        band = join(curve(xs, top - 0.065), reverse(curve(xs, top - 0.004)))
        cv.polygon(band, blend(f.hair_color, f.skin, 0.2), 0.65, p.wear.mustache)


def _draw_folds(cv: Canvas, p: FaceBatch, x, up_in) -> None:
    """Nasolabial folds deepen with AU12 (and AU10); dimples (AU14) sit by the corners."""
    f = p.shape
    a10, a12, a14 = p.au(10), p.au(12), p.au(14)
    corner_x, corner_y = x[:, -1:], up_in[:, -1:]
    _wrinkle(cv, p, 0.6 * a12 + 0.45 * a10 + 0.2 * f.age, [bezier(
        (side * (f.nose_w + 0.035), f.nose_y - 0.02 * a10),
        (side * (corner_x + 0.06 + 0.03 * a12), 0.5 * (f.nose_y + corner_y) + 0.01),
        (side * (corner_x + 0.05), corner_y + 0.07), 7) for side in SIDES], 0.018, 0.6)
    dimple = 0.8 * a14 > FAINT
    if dimple.any():
        cv.polygon([ellipse_points(side * (corner_x + 0.03), corner_y - 0.005, 0.013, 0.026) for side in SIDES],
                   blend(f.skin, shade(f.skin, 0.45), 0.8 * a14), 0.6, dimple)


def _draw_press_and_chin(cv: Canvas, p: FaceBatch, x, up_out, low_out) -> None:
    """AU24 bulges the skin above and below the pressed lips; AU17 creases and dimples the chin."""
    f = p.shape
    a17, a24 = p.au(17), p.au(24)
    mid = slice(5, -5)
    _wrinkle(cv, p, 0.45 * a24, [curve(x[:, mid], up_out[:, mid] - 0.03), curve(x[:, mid], low_out[:, mid] + 0.035)],
             0.014, 0.6)
    low_y = low_out[:, low_out.shape[1] // 2:][:, :1]
    _wrinkle(cv, p, 0.65 * a17, bezier(
        (-0.13, low_y + 0.085), (0.0, low_y + 0.06 - 0.02 * a17), (0.13, low_y + 0.085), 7), 0.016, 0.5)
    chin = f.chin + 0.11 * p.au(26)
    dimpled = 0.6 * a17 > FAINT
    if dimpled.any():  # four small pits, apart from each other
        pits = [ellipse_points(dx, chin - dy, 0.014, 0.011) for dx, dy in ((-0.05, 0.17), (0.05, 0.17), (-0.02, 0.11),
                                                                           (0.03, 0.12))]
        cv.polygon(pits, blend(f.skin, shade(f.skin, 0.5), 0.6 * a17), 0.4, dimpled)
