"""The parts of a face that carry identity and attributes: head, hair, beard, accessories.

Every function draws a whole `FaceBatch` (per-face values are (B, 1) columns, see `canvas`);
optional parts are drawn only on the faces that have them (`where`).
"""

from __future__ import annotations

import math

import numpy as np

from facebehavior.synthface.batch import FaceBatch
from facebehavior.synthface.canvas import Canvas, blend, curve, ellipse_points, join, points, shade

_THETA = np.linspace(0.0, 2.0 * math.pi, 56, endpoint=False)
_COS_T, _SIN_T = np.cos(_THETA), np.sin(_THETA)
_LOWER = _SIN_T > 0
_JAW = slice(1, 28)        # the outline points below the ear line (y > 0), right → chin → left
_HAIRLINE_TH = np.linspace(0.05, math.pi - 0.05, 15)
_HAIRLINE_X, _HAIRLINE_Y = 0.93 * np.cos(_HAIRLINE_TH), np.sin(_HAIRLINE_TH) ** 0.35
_CAP_TH = np.linspace(math.pi + 0.1, 2.0 * math.pi - 0.1, 21)
_CAP_X, _CAP_Y = np.cos(_CAP_TH), np.sin(_CAP_TH)
_BANGS_X = np.linspace(-0.74, 0.74, 11)
_BANGS_STEP = 0.035 * (np.arange(11) % 2)
_RIM_TH = np.linspace(0.0, 2.0 * math.pi, 25)
_RIM_X = np.sign(np.cos(_RIM_TH)) * np.abs(np.cos(_RIM_TH)) ** 0.6
_RIM_Y = np.sign(np.sin(_RIM_TH)) * np.abs(np.sin(_RIM_TH)) ** 0.6
_BOX = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)], float)
EARRING = (215, 180, 60)
SIDES = (-1.0, 1.0)           # the face's right and left half; drawn in one call (they never overlap)
SUNGLASS = (35, 35, 45)


def head_outline(p: FaceBatch) -> np.ndarray:
    """(B, 56, 2) face contour: an elliptic forehead and a jaw narrowing to the chin; AU26 lowers the chin."""
    f = p.shape
    chin = f.chin + 0.11 * p.au(26) - 0.015 * p.au(17)
    x = f.width * _COS_T * np.where(_LOWER, 1.0 - (1.0 - f.jaw) * _SIN_T ** 2, 1.0)
    y = np.where(_LOWER, chin * _SIN_T, f.top * _SIN_T)
    return curve(x, y)


def draw_body(cv: Canvas, p: FaceBatch) -> None:
    """Long hair behind the head, shoulders, neck and ears."""
    f = p.shape
    if f.long_hair.any():
        arc = ellipse_points(0.0, 0.0, f.width + 0.2, f.top + 0.14)[:, 14:]  # upper half
        back = join(arc, points((f.width + 0.26, 1.35), (-f.width - 0.26, 1.35)))
        cv.polygon(back, shade(f.hair_color, 0.85), -0.2, f.long_hair)
    cv.polygon(points((-0.31, 0.4), (0.31, 0.4), (0.36, 1.6), (-0.36, 1.6)), shade(f.skin, 0.82), -0.1)
    clothes = points((-1.7, 2.3), (-1.7, 1.45), (-1.0, 1.2), (-0.33, 1.12), (0.0, 1.38), (0.33, 1.12),
                     (1.0, 1.2), (1.7, 1.45), (1.7, 2.3))
    cv.polygon(clothes, f.clothes, -0.1)
    ears = [ellipse_points(side * (f.width - 0.02), -0.03, 0.075, 0.16) for side in SIDES]
    cv.polygon(ears, shade(f.skin, 0.9), -0.3)
    if p.wear.earrings.any():
        cv.polygon([ellipse_points(side * (f.width - 0.01), 0.15, 0.03, 0.03) for side in SIDES], EARRING, -0.3,
                   p.wear.earrings)


def draw_face_base(cv: Canvas, p: FaceBatch) -> None:
    """Skin, a full beard or goatee, and rosy cheeks (drawn under the features)."""
    f, wear = p.shape, p.wear
    outline = head_outline(p)
    cv.polygon(outline, f.skin, 0.0)
    beard = blend(f.hair_color, f.skin, 0.25)
    if wear.full_beard.any():
        jaw = outline[:, _JAW] * 1.02
        cheeks = points((-(f.width - 0.14), 0.05), (-0.3, f.nose_y + 0.06), (0.0, f.nose_y + 0.09),
                        (0.3, f.nose_y + 0.06), (f.width - 0.14, 0.05))
        cv.polygon(join(jaw, cheeks), beard, 0.1, wear.full_beard)  # right→chin→left, then back over the cheeks
    if wear.goatee.any():
        chin = f.chin + 0.11 * p.au(26)
        cv.ellipse(0.0, chin - 0.13, 0.11, 0.11, beard, 0.3, wear.goatee)
        cv.ellipse(0.0, f.mouth_y + 0.11, 0.08, 0.05, beard, 0.4, wear.goatee)
    if wear.rosy.any():
        cv.polygon([ellipse_points(side * 0.42, 0.19, 0.12, 0.08) for side in SIDES], blend(f.skin, (225, 85, 95), 0.3),
                   0.3, wear.rosy)


def draw_hair(cv: Canvas, p: FaceBatch) -> None:
    """Hair in front of the forehead (cap, fringe, bald sides) and a hat."""
    f, wear = p.shape, p.wear
    bald = f.bald
    if bald.any():
        cv.polygon([points((side * 0.9 * f.width, -0.45), (side * (f.width + 0.04), -0.45),
                           (side * (f.width + 0.04), 0.0), (side * 0.95 * f.width, 0.0)) for side in SIDES],
                   f.hair_color, 0.0, bald)
    bangs = wear.bangs & ~bald
    if bangs.any():
        fringe = curve(_BANGS_X, f.brow_y - 0.08 - _BANGS_STEP)
        cv.polygon(join(fringe, points((0.74, -1.0), (-0.74, -1.0))), f.hair_color, 0.1, bangs)
    if not bald.all():
        outer = curve((f.width + 0.05) * _CAP_X, (f.top + 0.09) * _CAP_Y)
        hairline = curve(f.width * _HAIRLINE_X, f.hairline * _HAIRLINE_Y)  # flat on top, steep at the temples
        cv.polygon(join(outer, hairline), f.hair_color, 0.0, ~bald)
    if wear.hat.any():
        crown = ellipse_points(0.0, -f.top + 0.12, f.width + 0.1, 0.45)[:, 14:]
        cv.polygon(crown, wear.hat_color, 0.0, wear.hat)
        w = f.width + 0.25
        cv.polygon(points((-w, -f.top + 0.05), (w, -f.top + 0.05), (w, -f.top + 0.15), (-w, -f.top + 0.15)),
                   shade(wear.hat_color, 0.8), 0.1, wear.hat)


def draw_glasses(cv: Canvas, p: FaceBatch) -> None:
    f, wear = p.shape, p.wear
    on = wear.glasses
    if not on.any():
        return
    rx, ry, y = f.eye_w + 0.075, 0.125, f.eye_y + 0.01
    rims = [curve(side * f.eye_dx + rx * _RIM_X, y + ry * _RIM_Y) for side in SIDES]
    if wear.sunglasses.any():
        cv.polygon(rims, SUNGLASS, 0.55, wear.sunglasses)
    cv.line(rims, wear.frame_color, 0.028, 0.55, on)
    cv.line([points((side * (f.eye_dx + rx), y - 0.03), (side * (f.width + 0.02), y - 0.05)) for side in SIDES],
            wear.frame_color, 0.024, 0.2, on)
    inner = f.eye_dx - rx
    cv.line(points((-inner, y - 0.03), (0.0, y - 0.05), (inner, y - 0.03)), wear.frame_color, 0.024, 0.7, on)


def draw_occluder(cv: Canvas, p: FaceBatch) -> None:
    occ = p.occluder
    if occ.box.any():
        bx, by = _BOX[:, 0] * occ.rx, _BOX[:, 1] * occ.ry
        corners = curve(bx * occ.cos - by * occ.sin + occ.x, bx * occ.sin + by * occ.cos + occ.y)
        cv.polygon(corners, occ.color, 1.2, occ.box)
    if occ.ellipse.any():
        cv.polygon(ellipse_points(occ.x, occ.y, occ.rx, occ.ry, occ.cos, occ.sin), occ.color, 1.2, occ.ellipse)
