"""Per-database imaging conditions: each synthetic database has its own nuisance bias."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from facebehavior.data.synthface.draws import clamp
from facebehavior.data.synthface.params import Nuisance, Occluder


def _background(rng: np.random.Generator) -> tuple[int, int, int]:
    """A muted scene colour: a grey level with a mild tint."""
    grey = rng.uniform(50, 200)
    return tuple(int(clamp(grey + t, 0, 255)) for t in rng.normal(0, 22, 3).tolist())


@dataclass(frozen=True)
class NuisanceProfile:
    """Distributions of pose and imaging conditions (angles in degrees, blur/noise at 64×64)."""

    roll_std: float = 5.0
    yaw_std: float = 0.15
    scale: tuple[float, float] = (0.92, 1.05)
    shift_std: float = 0.025
    brightness: tuple[float, float] = (1.0, 0.08)   # mean, std
    contrast: tuple[float, float] = (0.85, 1.1)
    light: float = 0.25                             # max directional gradient
    blur: tuple[float, float] = (0.0, 0.5)
    noise: tuple[float, float] = (1.0, 4.0)
    occlusion: float = 0.03                         # chance of a hand/object in front
    skin_shift: float = 0.0                         # demographic shift of skin tone (+ = darker)

    def describe(self) -> dict:
        return asdict(self)

    def sample(self, rng: np.random.Generator) -> Nuisance:
        occluder = None
        if rng.random() < self.occlusion:
            hand = rng.random() < 0.5
            color = tuple(int(c) for c in (rng.integers(120, 235, 3) if hand else rng.integers(20, 235, 3)))
            occluder = Occluder(x=rng.uniform(-0.5, 0.5), y=rng.uniform(-0.3, 0.9), rx=rng.uniform(0.15, 0.4),
                                ry=rng.uniform(0.12, 0.35), angle=rng.uniform(0, np.pi), color=color, box=not hand)
        return Nuisance(
            roll=clamp(rng.normal(0, self.roll_std), -3 * self.roll_std, 3 * self.roll_std),
            yaw=clamp(rng.normal(0, self.yaw_std), -0.8, 0.8),
            scale=rng.uniform(*self.scale),
            shift=(float(rng.normal(0, self.shift_std)), float(rng.normal(0, self.shift_std))),
            brightness=clamp(rng.normal(*self.brightness), 0.4, 1.5),
            contrast=rng.uniform(*self.contrast),
            light_angle=rng.uniform(0, 2 * np.pi), light=rng.uniform(0, self.light),
            blur=rng.uniform(*self.blur), noise=rng.uniform(*self.noise),
            noise_seed=int(rng.integers(2 ** 31)),
            background=_background(rng),
            occluder=occluder,
        )
