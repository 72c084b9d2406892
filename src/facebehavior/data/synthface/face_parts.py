"""The parts of a face that carry identity and attributes: head, hair, beard, accessories."""

from __future__ import annotations

import math

import numpy as np

from facebehavior.data.synthface.canvas import Canvas, ellipse_points, mix, shade
from facebehavior.data.synthface.params import FaceParams

_THETA = np.linspace(0.0, 2.0 * math.pi, 56, endpoint=False)
_HAIRLINE_TH = np.linspace(0.05, math.pi - 0.05, 15)
_CAP_TH = np.linspace(math.pi + 0.1, 2.0 * math.pi - 0.1, 21)
_BANGS_X = np.linspace(-0.74, 0.74, 11)
_RIM_TH = np.linspace(0.0, 2.0 * math.pi, 25)


def head_outline(p: FaceParams) -> np.ndarray:
    """Face contour: an elliptic forehead and a jaw narrowing to the chin; AU26 lowers the chin."""
    f = p.shape
    chin = f.chin + 0.11 * p.au(26) - 0.015 * p.au(17)
    c, s = np.cos(_THETA), np.sin(_THETA)
    lower = s > 0
    x = f.width * c * np.where(lower, 1.0 - (1.0 - f.jaw) * s ** 2, 1.0)
    y = np.where(lower, chin * s, f.top * s)
    return np.column_stack((x, y))


def draw_body(cv: Canvas, p: FaceParams) -> None:
    """Long hair behind the head, shoulders, neck and ears."""
    f = p.shape
    if f.hair == "long":
        arc = ellipse_points(0.0, 0.0, f.width + 0.2, f.top + 0.14)[14:]  # upper half
        back = np.vstack((arc, [(f.width + 0.26, 1.35), (-f.width - 0.26, 1.35)]))
        cv.polygon(back, shade(f.hair_color, 0.85), -0.2)
    cv.polygon([(-0.31, 0.4), (0.31, 0.4), (0.36, 1.6), (-0.36, 1.6)], shade(f.skin, 0.82), -0.1)
    clothes = [(-1.7, 2.3), (-1.7, 1.45), (-1.0, 1.2), (-0.33, 1.12), (0.0, 1.38), (0.33, 1.12),
               (1.0, 1.2), (1.7, 1.45), (1.7, 2.3)]
    cv.polygon(clothes, f.clothes, -0.1)
    for side in (-1.0, 1.0):
        cv.ellipse(side * (f.width - 0.02), -0.03, 0.075, 0.16, shade(f.skin, 0.9), -0.3)
        if p.wear.earrings:
            cv.ellipse(side * (f.width - 0.01), 0.15, 0.03, 0.03, (215, 180, 60), -0.3)


def draw_face_base(cv: Canvas, p: FaceParams) -> None:
    """Skin, a full beard or goatee, and rosy cheeks (drawn under the features)."""
    f = p.shape
    outline = head_outline(p)
    cv.polygon(outline, f.skin, 0.0)
    beard = mix(f.hair_color, f.skin, 0.25)
    if p.wear.beard == "full":
        jaw = outline[(outline[:, 1] >= 0.02)] * 1.02
        jaw = jaw[np.argsort(np.arctan2(jaw[:, 1], jaw[:, 0]))]
        cheeks = [(-(f.width - 0.14), 0.05), (-0.3, f.nose_y + 0.06), (0.0, f.nose_y + 0.09),
                  (0.3, f.nose_y + 0.06), (f.width - 0.14, 0.05)]
        cv.polygon(np.vstack((jaw, cheeks)), beard, 0.1)  # right→chin→left, then back over the cheeks
    if p.wear.beard == "goatee":
        chin = f.chin + 0.11 * p.au(26)
        cv.ellipse(0.0, chin - 0.13, 0.11, 0.11, beard, 0.3)
        cv.ellipse(0.0, f.mouth_y + 0.11, 0.08, 0.05, beard, 0.4)
    if p.wear.rosy:
        for side in (-1.0, 1.0):
            cv.ellipse(side * 0.42, 0.19, 0.12, 0.08, mix(f.skin, (225, 85, 95), 0.3), 0.3)


def _hairline(f) -> np.ndarray:
    """The forehead edge of the hair: flat on top, steep at the temples."""
    th = _HAIRLINE_TH
    return np.column_stack((0.93 * f.width * np.cos(th), f.hairline * np.sin(th) ** 0.35))


def draw_hair(cv: Canvas, p: FaceParams) -> None:
    """Hair in front of the forehead (cap, fringe, bald sides) and a hat."""
    f = p.shape
    if f.hair == "bald":
        for side in (-1.0, 1.0):
            cv.polygon([(side * 0.9 * f.width, -0.45), (side * (f.width + 0.04), -0.45),
                        (side * (f.width + 0.04), 0.0), (side * 0.95 * f.width, 0.0)], f.hair_color, 0.0)
    else:
        if p.wear.bangs:
            xs = _BANGS_X
            bottom = f.brow_y - 0.08 - 0.035 * (np.arange(11) % 2)
            cv.polygon(np.vstack((np.column_stack((xs, bottom)), [(0.74, -1.0), (-0.74, -1.0)])), f.hair_color, 0.1)
        th = _CAP_TH
        outer = np.column_stack(((f.width + 0.05) * np.cos(th), (f.top + 0.09) * np.sin(th)))
        cv.polygon(np.vstack((outer, _hairline(f))), f.hair_color, 0.0)
    if p.wear.hat:
        crown = ellipse_points(0.0, -f.top + 0.12, f.width + 0.1, 0.45)[14:]
        cv.polygon(crown, p.wear.hat_color, 0.0)
        w = f.width + 0.25
        cv.polygon([(-w, -f.top + 0.05), (w, -f.top + 0.05), (w, -f.top + 0.15), (-w, -f.top + 0.15)],
                   shade(p.wear.hat_color, 0.8), 0.1)


def draw_glasses(cv: Canvas, p: FaceParams) -> None:
    f, wear = p.shape, p.wear
    rx, ry, y = f.eye_w + 0.075, 0.125, f.eye_y + 0.01
    for side in (-1.0, 1.0):
        c, s = np.cos(_RIM_TH), np.sin(_RIM_TH)
        rim = np.column_stack((side * f.eye_dx + rx * np.sign(c) * np.abs(c) ** 0.6,
                               y + ry * np.sign(s) * np.abs(s) ** 0.6))
        if wear.sunglasses:
            cv.polygon(rim, (35, 35, 45), 0.55)
        cv.line(rim, wear.frame_color, 0.028, 0.55)
        cv.line([(side * (f.eye_dx + rx), y - 0.03), (side * (f.width + 0.02), y - 0.05)], wear.frame_color, 0.024, 0.2)
    inner = f.eye_dx - rx
    cv.line([(-inner, y - 0.03), (0.0, y - 0.05), (inner, y - 0.03)], wear.frame_color, 0.024, 0.7)


def draw_occluder(cv: Canvas, p: FaceParams) -> None:
    occ = p.nuisance.occluder
    if occ is None:
        return
    if occ.box:
        c, s = math.cos(occ.angle), math.sin(occ.angle)
        corners = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)], float) * (occ.rx, occ.ry)
        pts = corners @ np.array([[c, s], [-s, c]]) + (occ.x, occ.y)
        cv.polygon(pts, occ.color, 1.2)
    else:
        cv.ellipse(occ.x, occ.y, occ.rx, occ.ry, occ.color, 1.2, occ.angle)
