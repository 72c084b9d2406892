"""Identities: a face shape, stable traits, and per-identity propensities for what varies.

Stable traits (sex, age group, skin, face and feature shapes, hair) are fixed per identity.
What a person may or may not wear or show on a given photo (glasses, hat, earrings, lipstick,
fringe, rosy cheeks, beard) is drawn per image from the identity's own propensity, so an
attribute is predictable from identity, but not perfectly (as in CelebA).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from facebehavior.synthface.canvas import mix
from facebehavior.synthface.draws import Draws, clamp, pick
from facebehavior.synthface.params import SYNTH_ATTRIBUTES, FaceShape, Wear
from facebehavior.labels import AUS

SKIN_PALETTE = ((244, 212, 190), (222, 170, 135), (176, 120, 85), (105, 68, 45))
HAIR_COLORS = {"black": (30, 24, 22), "brown": (95, 62, 38), "blond": (205, 170, 105),
               "gray": (165, 162, 158), "red": (150, 65, 35)}
IRIS_COLORS = ((80, 50, 30), (45, 30, 20), (70, 110, 150), (80, 110, 70), (110, 85, 45))
PALE_SKIN = 0.12              # skin tone below this is labelled Pale_Skin
BLURRY = 0.9                  # blur sigma (px at 64×64) above which an image is labelled Blurry
BEARD_STYLES = ("", "mustache", "goatee", "full")


@dataclass
class Identity:
    shape: FaceShape
    traits: dict[str, bool]
    hair_name: str
    beard_style: str
    propensity: dict[str, float] = field(default_factory=dict)


def _skin(t: float) -> tuple[int, int, int]:
    """Skin colour along a light→dark palette, t in [0, 1]."""
    pos = t * (len(SKIN_PALETTE) - 1)
    i = min(int(pos), len(SKIN_PALETTE) - 2)
    return mix(SKIN_PALETTE[i], SKIN_PALETTE[i + 1], pos - i)


def _hair(rng, young: bool, male: bool, skin_t: float) -> tuple[str, str]:
    if male and not young and rng.random() < 0.4 or male and rng.random() < 0.03:
        style = "bald"
    else:
        style = "long" if rng.random() < (0.1 if male else 0.8) else "short"
    if not young and rng.random() < 0.55:
        return style, "gray"
    weights = (0.35 + 0.4 * skin_t, 0.37, 0.2 * (1 - skin_t), 0.05)
    return style, ("black", "brown", "blond", "red")[pick(rng, weights)]


def _propensity(rng, common: float, high: tuple[float, float], low: tuple[float, float]) -> float:
    """A share `common` of identities has the attribute often, the rest rarely."""
    a, b = high if rng.random() < common else low
    return float(rng.beta(a, b))


def _shape(rng, tr: dict[str, bool], skin_t: float, hair: str, hair_name: str, age: float) -> FaceShape:
    n = rng.normal
    return FaceShape(
        width=n(0.78, 0.025) + 0.07 * tr["Chubby"] - 0.04 * tr["Oval_Face"] + 0.02 * tr["Male"],
        top=n(1.05, 0.03), chin=n(0.95, 0.03) + 0.05 * tr["Oval_Face"],
        jaw=n(0.62, 0.04) + 0.1 * tr["Chubby"] + 0.06 * tr["Male"] - 0.08 * tr["Oval_Face"],
        skin=_skin(skin_t),
        eye_dx=n(0.33, 0.015), eye_y=n(-0.10, 0.015), eye_w=n(0.14, 0.01),
        eye_h=n(0.06, 0.006) * (0.62 if tr["Narrow_Eyes"] else 1.0),
        iris=IRIS_COLORS[rng.integers(len(IRIS_COLORS))],
        brow_y=n(-0.36, 0.015),
        brow_thick=n(0.046, 0.005) * (1.5 if tr["Bushy_Eyebrows"] else 1.0) + 0.008 * tr["Male"],
        brow_arch=abs(n(0.015, 0.008)) + 0.04 * tr["Arched_Eyebrows"],
        nose_y=n(0.22, 0.02), nose_w=n(0.10, 0.01) * (1.35 if tr["Big_Nose"] else 1.0),
        mouth_y=n(0.52, 0.02), mouth_w=n(0.25, 0.015),
        lip_up=n(0.038, 0.005) * (1.45 if tr["Big_Lips"] else 1.0),
        lip_low=n(0.052, 0.006) * (1.4 if tr["Big_Lips"] else 1.0),
        lip_color=mix(_skin(skin_t), (170, 70, 80), 0.45),
        hair=hair, hair_color=mix(HAIR_COLORS[hair_name], (0, 0, 0), rng.uniform(0, 0.25)),
        hairline=n(-0.70, 0.03) - (0.15 if tr["Male"] and not tr["Young"] else 0.0),
        age=age, clothes=tuple(int(c) for c in rng.integers(30, 220, 3)),
    )


def sample_identity(rng: np.random.Generator, skin_shift: float = 0.0) -> Identity:
    """A new identity; `skin_shift` moves the skin-tone distribution (database demographics)."""
    male, young = rng.random() < 0.45, rng.random() < 0.7
    skin_t = clamp(rng.normal(0.4 + skin_shift, 0.22), 0.0, 1.0)
    chubby = rng.random() < 0.12
    tr = {
        "Male": male, "Young": young, "Pale_Skin": skin_t < PALE_SKIN, "Chubby": chubby,
        "Oval_Face": not chubby and rng.random() < 0.3, "Big_Nose": rng.random() < (0.35 if male else 0.2),
        "Big_Lips": rng.random() < (0.15 if male else 0.3), "Narrow_Eyes": rng.random() < 0.12,
        "Bushy_Eyebrows": rng.random() < (0.25 if male else 0.08),
        "Arched_Eyebrows": rng.random() < (0.1 if male else 0.35),
    }
    age = rng.uniform(0.0, 0.35) if young else rng.uniform(0.45, 1.0)
    hair, hair_name = _hair(rng, young, male, skin_t)
    beard = BEARD_STYLES[pick(rng, (0.5, 0.15, 0.15, 0.2))] if male else ""
    propensity = {
        "Eyeglasses": _propensity(rng, 0.25, (8, 2), (1, 20)),
        "Wearing_Hat": _propensity(rng, 0.1, (4, 3), (1, 40)),
        "Wearing_Earrings": _propensity(rng, 0.5 if not male else 0.03, (5, 2), (1, 30)),
        "Wearing_Lipstick": _propensity(rng, 0.55 if not male else 0.0, (6, 2), (1, 40)),
        "Bangs": 0.0 if hair == "bald" else _propensity(rng, 0.35, (6, 2), (1, 15)),
        "Rosy_Cheeks": _propensity(rng, 0.15, (5, 2), (1, 25)),
        "beard": float(rng.beta(8, 1.5)) if beard else 0.0,
        "smile": float(rng.beta(2, 3)),
    }
    return Identity(_shape(rng, tr, skin_t, hair, hair_name, age), tr, hair_name, beard, propensity)


_WORN = ("Eyeglasses", "Wearing_Hat", "Wearing_Earrings", "Wearing_Lipstick", "Bangs", "Rosy_Cheeks", "beard")


@dataclass
class WearBatch:
    """What N images show (one row each), drawn from their identities' propensities."""

    glasses: np.ndarray       # (N,) bool
    sunglasses: np.ndarray
    frame_color: np.ndarray   # (N, 3) int
    hat: np.ndarray
    hat_color: np.ndarray
    earrings: np.ndarray
    lipstick: np.ndarray
    bangs: np.ndarray
    beard: list[str]          # "" | mustache | goatee | full
    rosy: np.ndarray

    def wear(self, i: int) -> Wear:
        """Image i's `Wear`, as the renderer takes it."""
        return Wear(glasses=bool(self.glasses[i]), sunglasses=bool(self.sunglasses[i]),
                    frame_color=tuple(self.frame_color[i].tolist()), hat=bool(self.hat[i]),
                    hat_color=tuple(self.hat_color[i].tolist()), earrings=bool(self.earrings[i]),
                    lipstick=bool(self.lipstick[i]), bangs=bool(self.bangs[i]), beard=self.beard[i],
                    rosy=bool(self.rosy[i]))


def sample_wear(identities: list[Identity], draws: Draws) -> WearBatch:
    """What each image shows (one identity per image), drawn from the identity's propensities."""
    propensity = np.array([[ident.propensity[k] for k in _WORN] for ident in identities])
    draw = draws.uniform(len(_WORN)) < propensity
    worn = dict(zip(_WORN, draw.T))
    sunglasses = worn["Eyeglasses"] & (draws.uniform() < 0.1)
    frame, hat = draws.integers(10, 120, 3), draws.integers(20, 230, 3)
    beard = [ident.beard_style if on else "" for ident, on in zip(identities, worn["beard"].tolist())]
    return WearBatch(glasses=worn["Eyeglasses"], sunglasses=sunglasses, frame_color=frame, hat=worn["Wearing_Hat"],
                     hat_color=hat, earrings=worn["Wearing_Earrings"], lipstick=worn["Wearing_Lipstick"],
                     bangs=worn["Bangs"], beard=beard, rosy=worn["Rosy_Cheeks"])


_HAIRS = ("black", "blond", "brown", "gray")


def attributes(identities: list[Identity], wear: WearBatch, aus: np.ndarray, blur: np.ndarray) -> np.ndarray:
    """(N, len(SYNTH_ATTRIBUTES)) 0/1 labels of N images (AU intensities in `AUS` order)."""
    bald = np.array([ident.shape.hair == "bald" for ident in identities])
    hair = np.array([[ident.hair_name == name for name in _HAIRS] for ident in identities]) & ~bald[:, None]
    beard = np.array(wear.beard, dtype=object)
    on = {au: aus[:, j] > 0 for j, au in enumerate(AUS)}
    columns = {
        **{k: np.array([ident.traits[k] for ident in identities]) for k in identities[0].traits},
        **{f"{name.capitalize()}_Hair": hair[:, k] for k, name in enumerate(_HAIRS)}, "Bald": bald,
        "Bangs": wear.bangs, "Eyeglasses": wear.glasses,
        "No_Beard": beard == "", "Mustache": (beard == "mustache") | (beard == "full"),
        "Goatee": (beard == "goatee") | (beard == "full"), "Wearing_Hat": wear.hat,
        "Wearing_Earrings": wear.earrings, "Wearing_Lipstick": wear.lipstick,
        "Rosy_Cheeks": wear.rosy, "Smiling": on[12],
        "Mouth_Slightly_Open": on[25] & ~on[26], "Blurry": np.asarray(blur) > BLURRY,
    }
    return np.stack([np.asarray(columns[name], bool) for name in SYNTH_ATTRIBUTES], axis=1).astype(np.int8)
