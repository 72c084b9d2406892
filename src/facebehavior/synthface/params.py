"""The parameters one SynthFace image is rendered from.

A face lives in *canonical units*: the face centre is (0, 0), x grows to the subject's left on
screen (image right), y grows downwards, and the face is about 1.6 units wide and 2 units tall.
`render_face` maps these units to pixels after pose (roll, yaw, scale, shift).

Three groups of parameters:
- `FaceShape`: the identity (geometry and colours), fixed for a subject;
- `Wear`: what the subject wears or shows in this image (glasses, hat, beard, ...);
- `Nuisance`: pose, lighting, blur, noise, occlusion, background.
Action units are an array of 17 intensities in [0, 1] (0 = absent) in the order of
`facebehavior.labels.AUS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from facebehavior.labels import AUS

# CelebA attribute names SynthFace renders and labels (a subset of `CELEBA_ATTRIBUTES`).
SYNTH_ATTRIBUTES: tuple[str, ...] = (
    "Male", "Young", "Pale_Skin", "Chubby", "Oval_Face", "Big_Nose", "Big_Lips", "Narrow_Eyes",
    "Bushy_Eyebrows", "Arched_Eyebrows", "Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair",
    "Bald", "Bangs", "Eyeglasses", "No_Beard", "Mustache", "Goatee", "Wearing_Hat",
    "Wearing_Earrings", "Wearing_Lipstick", "Rosy_Cheeks", "Smiling", "Mouth_Slightly_Open",
    "Blurry",
)

AU_INDEX: dict[int, int] = {au: i for i, au in enumerate(AUS)}

# FACS names, shortened for figure labels.
AU_DESCRIPTIONS: dict[int, str] = {
    1: "inner brow raise", 2: "outer brow raise", 4: "brow lower", 5: "upper lid raise",
    6: "cheek raise", 7: "lid tighten", 9: "nose wrinkle", 10: "upper lip raise",
    12: "lip corner pull", 14: "dimple", 15: "corner depress", 17: "chin raise",
    20: "lip stretch", 23: "lip tighten", 24: "lip press", 25: "lips part", 26: "jaw drop",
}

# Where each AU acts, in canonical units of an unposed face: (x_min, x_max, y_min, y_max)
# boxes that the changed pixels' centroid must fall into (x measured as |x|, the faces are
# symmetric). Tests check rendering against these; docs/synthface.md shows them.
REGIONS: dict[str, tuple[float, float, float, float]] = {
    "brows": (0.0, 0.7, -0.80, -0.26),
    "eyes": (0.15, 0.65, -0.26, 0.08),
    "nose": (0.0, 0.22, -0.14, 0.34),
    "mouth": (0.0, 0.7, 0.32, 1.15),
}
AU_REGION: dict[int, str] = {
    1: "brows", 2: "brows", 4: "brows",
    5: "eyes", 6: "eyes", 7: "eyes",
    9: "nose",
    10: "mouth", 12: "mouth", 14: "mouth", 15: "mouth", 17: "mouth", 20: "mouth",
    23: "mouth", 24: "mouth", 25: "mouth", 26: "mouth",
}


@dataclass
class FaceShape:
    """A subject's geometry and colours (canonical units, RGB 0..255)."""

    width: float = 0.78           # half-width at the cheeks
    top: float = 1.05             # forehead height above the centre
    chin: float = 0.95            # chin depth below the centre
    jaw: float = 0.62             # jaw width at the chin, relative to `width`
    skin: tuple[int, int, int] = (220, 172, 140)
    eye_dx: float = 0.33
    eye_y: float = -0.10
    eye_w: float = 0.14           # half-width of the eye opening
    eye_h: float = 0.060          # upper-lid height of a neutral, open eye
    iris: tuple[int, int, int] = (90, 60, 40)
    brow_y: float = -0.36
    brow_thick: float = 0.05
    brow_arch: float = 0.03
    nose_y: float = 0.22          # nostril line
    nose_w: float = 0.10
    mouth_y: float = 0.52
    mouth_w: float = 0.25         # half-width
    lip_up: float = 0.040
    lip_low: float = 0.055
    lip_color: tuple[int, int, int] = (180, 95, 95)
    hair: str = "short"           # short | long | bald
    hair_color: tuple[int, int, int] = (60, 40, 25)
    hairline: float = -0.70       # where the hair starts on the forehead
    age: float = 0.2              # 0 young .. 1 old: baseline wrinkles
    clothes: tuple[int, int, int] = (70, 90, 130)


@dataclass
class Wear:
    """What this image shows of the subject beyond the bare face."""

    glasses: bool = False
    sunglasses: bool = False
    frame_color: tuple[int, int, int] = (30, 30, 35)
    hat: bool = False
    hat_color: tuple[int, int, int] = (150, 40, 40)
    earrings: bool = False
    lipstick: bool = False
    bangs: bool = False
    beard: str = ""               # "" | mustache | goatee | full
    rosy: bool = False


@dataclass
class Occluder:
    """A hand or object in front of the face (canonical units)."""

    x: float
    y: float
    rx: float
    ry: float
    angle: float
    color: tuple[int, int, int]
    box: bool = False             # rectangle (object) rather than an ellipse (hand)


@dataclass
class Nuisance:
    """Pose and imaging conditions; sigma/noise are in pixels at 64×64 and scale with size."""

    roll: float = 0.0             # degrees, in-plane rotation
    yaw: float = 0.0              # -1..1, a left/right turn rendered as squash + depth shift
    scale: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)  # fraction of the image side
    brightness: float = 1.0
    contrast: float = 1.0
    light_angle: float = 0.0      # radians, direction the light comes from
    light: float = 0.0            # strength of the directional gradient
    blur: float = 0.0
    noise: float = 0.0
    noise_seed: int = 0
    background: tuple[int, int, int] = (120, 130, 140)
    occluder: Occluder | None = None


@dataclass
class FaceParams:
    """Everything `render_face` needs: a pure function of these values."""

    shape: FaceShape = field(default_factory=FaceShape)
    wear: Wear = field(default_factory=Wear)
    aus: np.ndarray = field(default_factory=lambda: np.zeros(len(AUS), np.float32))
    nuisance: Nuisance = field(default_factory=Nuisance)

    def au(self, number: int) -> float:
        return float(self.aus[AU_INDEX[number]])

    def with_aus(self, **intensities: float) -> "FaceParams":
        """A copy with AUs set by name, e.g. ``with_aus(au12=1.0)``."""
        aus = np.array(self.aus, np.float32)
        for name, value in intensities.items():
            aus[AU_INDEX[int(name.removeprefix("au"))]] = value
        return FaceParams(self.shape, self.wear, aus, self.nuisance)
