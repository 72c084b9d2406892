"""What a network expects as input, owned by the model (as timm's `resolve_data_config(model=...)`).

One record, `Preprocessing`, says how a face must reach the network: the 5-point template a face is
aligned to (which fixes the crop's framing), the crop's side, grayscale or colour, the pixel
normalisation and whether predictions average the mirrored crop. Training writes it into every
checkpoint (`meta.preprocessing`) and into exported ONNX files; evaluation, `analyze`, the ONNX
graph and the ONNX backend all read it from there, so none of them re-derives it from a config.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING

import numpy as np

from facebehavior.errors import ConfigError

if TYPE_CHECKING:  # the record itself needs no torch: the ONNX backend reads it without loading torch
    import torch

# The InsightFace/ArcFace template for 112×112 crops (the 96×112 SphereFace template shifted right
# by 8 px): eye on the image's left, eye on the image's right, nose tip, mouth corners.
ARCFACE_112 = np.array([
    [38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041],
])
# Where FER2013's own crops put the five landmarks in their 48×48 frame: the median over 1,326
# FER+ *train* faces found by our MTCNN backend, made left-right symmetric
# (benchmarks/ferplus_crop_template.py → results/ferplus_crop_template.json). FER2013 crops are
# tighter than ArcFace's (eyes 17.9 px apart at 48 px against 15.1) with the eyes higher.
FER2013_48 = np.array([
    [15.04, 18.52], [32.96, 18.52], [24.00, 28.78], [16.60, 37.61], [31.40, 37.61],
])
TEMPLATES = {"arcface": (ARCFACE_112, 112.0), "fer2013": (FER2013_48, 48.0)}


@dataclass(frozen=True)
class Preprocessing:
    """How a face crop becomes the network's input.

    image_size: side of the square crop; crop: the landmark template faces are aligned to
    (`arcface` or `fer2013`); grayscale: the crop is made gray (the mean of R, G, B, as training
    does) before the network; mean/std: (pixel − mean) / std per channel, [-1, 1] by default (the
    paper's); flip_average: the prediction averages the crop's and its mirror image's outputs.
    """

    image_size: int = 112
    crop: str = "arcface"
    grayscale: bool = False
    mean: float = 127.5
    std: float = 127.5
    flip_average: bool = False

    def __post_init__(self):
        if self.crop not in TEMPLATES:
            raise ConfigError(f"preprocessing.crop {self.crop!r}: use one of {sorted(TEMPLATES)}")
        if self.image_size < 8 or self.std <= 0:
            raise ConfigError(f"preprocessing: image_size {self.image_size} (≥ 8) and std {self.std} (> 0)")

    def template(self, size: int | None = None) -> np.ndarray:
        """The 5-point template (5, 2) in pixels of a `size`×`size` crop (default: image_size)."""
        points, frame = TEMPLATES[self.crop]
        return points * ((size or self.image_size) / frame)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Preprocessing":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"preprocessing: unknown key(s) {unknown}; this version knows {sorted(known)}")
        return cls(**data)


def resolve_preprocessing(cfg) -> Preprocessing:
    """The record a training config implies (an ExperimentConfig): what its network learnt from."""
    return Preprocessing(image_size=int(cfg.data.image_size), crop=cfg.data.crop,
                         grayscale=bool(cfg.data.augment.grayscale), flip_average=bool(cfg.eval.flip_average))


def normalize(images: torch.Tensor, prep: Preprocessing) -> torch.Tensor:
    """uint8 (or float pixel-valued) (B, 3, H, W) → the network's float input: gray if asked, then
    (x − mean) / std. The one place the pixel normalisation is written."""
    x = images.float()
    if prep.grayscale:
        x = x.mean(1, keepdim=True).expand(-1, 3, -1, -1)
    return (x - prep.mean) / prep.std


def prepared_outputs(net: torch.nn.Module, images: torch.Tensor, prep: Preprocessing) -> dict[str, torch.Tensor]:
    """The network's logits per task for pixel-valued crops (B, 3, S, S), prepared as `prep` says;
    with flip_average, the mean of the crop's and its mirror image's logits."""
    x = normalize(images, prep)
    logits = net(x)
    if prep.flip_average:
        mirrored = net(x.flip(3))
        logits = {k: (v + mirrored[k]) / 2 for k, v in logits.items()}
    return logits
