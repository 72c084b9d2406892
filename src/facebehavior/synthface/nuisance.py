"""Per-database imaging conditions: each synthetic database has its own nuisance bias."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from facebehavior.synthface.draws import Draws
from facebehavior.synthface.params import Nuisance, Occluder


def _background(draws: Draws) -> np.ndarray:
    """(N, 3) muted scene colours: a grey level with a mild tint."""
    grey = draws.uniform(None, 50, 200)
    return np.clip(grey[:, None] + draws.normal(3, 0, 22), 0, 255).astype(np.int64)


@dataclass
class NuisanceBatch:
    """Pose and imaging conditions of N images: one array entry (or row) per image."""

    roll: np.ndarray
    yaw: np.ndarray
    scale: np.ndarray
    shift: np.ndarray          # (N, 2)
    brightness: np.ndarray
    contrast: np.ndarray
    light_angle: np.ndarray
    light: np.ndarray
    blur: np.ndarray
    noise: np.ndarray
    noise_seed: np.ndarray
    background: np.ndarray     # (N, 3)
    occluded: np.ndarray       # (N,) bool
    occluder: dict[str, np.ndarray]

    def nuisance(self, i: int) -> Nuisance:
        """Image i's `Nuisance`, as the renderer takes it."""
        occ = None
        if self.occluded[i]:
            o = {k: v[i] for k, v in self.occluder.items()}
            occ = Occluder(x=float(o["x"]), y=float(o["y"]), rx=float(o["rx"]), ry=float(o["ry"]),
                           angle=float(o["angle"]), color=tuple(o["color"].tolist()), box=bool(o["box"]))
        return Nuisance(roll=float(self.roll[i]), yaw=float(self.yaw[i]), scale=float(self.scale[i]),
                        shift=(float(self.shift[i, 0]), float(self.shift[i, 1])),
                        brightness=float(self.brightness[i]), contrast=float(self.contrast[i]),
                        light_angle=float(self.light_angle[i]), light=float(self.light[i]),
                        blur=float(self.blur[i]), noise=float(self.noise[i]), noise_seed=int(self.noise_seed[i]),
                        background=tuple(self.background[i].tolist()), occluder=occ)


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

    def sample(self, draws: Draws) -> NuisanceBatch:
        """Draw the conditions of every image of `draws` (the same draws whatever is kept)."""
        occluded = draws.uniform() < self.occlusion
        hand = draws.uniform() < 0.5  # a hand (skin-like colours, an ellipse) or an object (a box)
        color = np.where(hand[:, None], draws.integers(120, 235, 3), draws.integers(20, 235, 3))
        occluder = {"x": draws.uniform(None, -0.5, 0.5), "y": draws.uniform(None, -0.3, 0.9),
                    "rx": draws.uniform(None, 0.15, 0.4), "ry": draws.uniform(None, 0.12, 0.35),
                    "angle": draws.uniform(None, 0, np.pi), "color": color, "box": ~hand}
        roll = np.clip(draws.normal(None, 0, self.roll_std), -3 * self.roll_std, 3 * self.roll_std)
        return NuisanceBatch(
            roll=roll, yaw=np.clip(draws.normal(None, 0, self.yaw_std), -0.8, 0.8),
            scale=draws.uniform(None, *self.scale), shift=draws.normal(2, 0, self.shift_std),
            brightness=np.clip(draws.normal(None, *self.brightness), 0.4, 1.5),
            contrast=draws.uniform(None, *self.contrast),
            light_angle=draws.uniform(None, 0, 2 * np.pi), light=draws.uniform(None, 0, self.light),
            blur=draws.uniform(None, *self.blur), noise=draws.uniform(None, *self.noise),
            noise_seed=draws.integers(0, 2 ** 31), background=_background(draws),
            occluded=occluded, occluder=occluder,
        )
