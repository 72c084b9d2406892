"""`FaceBatch`: the parameters of many faces as NumPy columns, for the vectorised renderer.

Every per-face number becomes a (B, 1) column, so that geometry written for one face (with
point arrays of shape (n,)) computes all B faces at once as (B, n) arrays; colours become (B, 3)
arrays and flags (B,) booleans. Per-face trigonometry is done here with Python's `math`, one
face at a time: NumPy's SIMD sin/cos may differ from libm in the last bit, and a face must
render to the same bytes whichever batch it is in.
"""

from __future__ import annotations

import math
from dataclasses import fields
from types import SimpleNamespace
from typing import Sequence

import numpy as np

from facebehavior.synthface.params import AU_INDEX, FaceParams, FaceShape

_SHAPE_FIELDS = tuple(f.name for f in fields(FaceShape))


def _column(values) -> np.ndarray:
    return np.array(values, float).reshape(-1, 1)


def _colors(values) -> np.ndarray:
    return np.array(values, float).reshape(-1, 3)


def _flags(values) -> np.ndarray:
    return np.array(values, bool)


class FaceBatch:
    """B faces' parameters: `shape`, `wear`, `pose`, `light` namespaces and `au(n)` columns."""

    def __init__(self, params: Sequence[FaceParams]):
        if not params:
            raise ValueError("FaceBatch needs at least one face")
        self.size = len(params)
        self.aus = np.array([p.aus for p in params], float).reshape(self.size, -1)
        self.shape = self._shape([p.shape for p in params])
        self.wear = self._wear(params)
        self.pose = self._pose([p.nuisance for p in params])
        self.light = self._light([p.nuisance for p in params])
        self.occluder = self._occluder([p.nuisance.occluder for p in params])

    def au(self, number: int) -> np.ndarray:
        """(B, 1) intensities of one AU."""
        j = AU_INDEX[number]
        return self.aus[:, j:j + 1]

    @staticmethod
    def _shape(shapes) -> SimpleNamespace:
        out = {}
        for name in _SHAPE_FIELDS:
            values = [getattr(s, name) for s in shapes]
            if name == "hair":
                out["long_hair"] = _flags([v == "long" for v in values])
                out["bald"] = _flags([v == "bald" for v in values])
            elif isinstance(values[0], tuple):
                out[name] = _colors(values)
            else:
                out[name] = _column(values)
        return SimpleNamespace(**out)

    @staticmethod
    def _wear(params) -> SimpleNamespace:
        w = [p.wear for p in params]
        beard = [x.beard for x in w]
        return SimpleNamespace(
            glasses=_flags([x.glasses or x.sunglasses for x in w]), sunglasses=_flags([x.sunglasses for x in w]),
            frame_color=_colors([x.frame_color for x in w]), hat=_flags([x.hat for x in w]),
            hat_color=_colors([x.hat_color for x in w]), earrings=_flags([x.earrings for x in w]),
            lipstick=_flags([x.lipstick for x in w]), bangs=_flags([x.bangs for x in w]),
            full_beard=_flags([b == "full" for b in beard]), goatee=_flags([b == "goatee" for b in beard]),
            mustache=_flags([b in ("mustache", "full") for b in beard]), rosy=_flags([x.rosy for x in w]))

    @staticmethod
    def _pose(nuisances) -> SimpleNamespace:
        roll = [math.radians(n.roll) for n in nuisances]
        return SimpleNamespace(
            cos=_column([math.cos(r) for r in roll]), sin=_column([math.sin(r) for r in roll]),
            yaw=_column([n.yaw for n in nuisances]), scale=_column([n.scale for n in nuisances]),
            shift_x=_column([n.shift[0] for n in nuisances]), shift_y=_column([n.shift[1] for n in nuisances]),
            background=[tuple(int(c) for c in n.background) for n in nuisances])

    @staticmethod
    def _light(nuisances) -> SimpleNamespace:
        return SimpleNamespace(
            # the directional gradient's x and y weights (light strength × direction)
            gx=[math.cos(n.light_angle) * n.light for n in nuisances],
            gy=[math.sin(n.light_angle) * n.light for n in nuisances],
            brightness=[float(n.brightness) for n in nuisances], contrast=[float(n.contrast) for n in nuisances],
            blur=[float(n.blur) for n in nuisances], noise=[float(n.noise) for n in nuisances],
            noise_seed=[int(n.noise_seed) for n in nuisances])

    @staticmethod
    def _occluder(occluders) -> SimpleNamespace:
        present = [o is not None for o in occluders]
        occ = [o if o is not None else _NO_OCCLUDER for o in occluders]
        return SimpleNamespace(
            ellipse=_flags([p and not o.box for p, o in zip(present, occ)]),
            box=_flags([p and o.box for p, o in zip(present, occ)]),
            x=_column([o.x for o in occ]), y=_column([o.y for o in occ]),
            rx=_column([o.rx for o in occ]), ry=_column([o.ry for o in occ]),
            cos=_column([math.cos(o.angle) for o in occ]), sin=_column([math.sin(o.angle) for o in occ]),
            color=_colors([o.color for o in occ]))


_NO_OCCLUDER = SimpleNamespace(x=0.0, y=0.0, rx=0.1, ry=0.1, angle=0.0, color=(0, 0, 0), box=False)
