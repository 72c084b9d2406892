"""A labelled picture of SynthFace: each expression, each AU alone, and database samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from facebehavior import atomic
from facebehavior.synthface.affect import expression_au_probabilities
from facebehavior.synthface.params import AU_DESCRIPTIONS, FaceParams
from facebehavior.synthface.presets import preset_databases
from facebehavior.synthface.render import render_faces
from facebehavior.synthface.sample import make_sample
from facebehavior.labels import AUS, EXPRESSIONS

COLUMNS = 9
LABEL_H = 26
SHOWN_PROBABILITY = 0.4       # an expression tile shows the AUs its table row fires this often


def expression_face(expr: int, intensity: float = 0.9) -> FaceParams:
    """The default face showing an expression's likely AUs (a picture, not a sample)."""
    probs = expression_au_probabilities()[expr]
    return FaceParams(aus=np.where(probs >= SHOWN_PROBABILITY, intensity, 0.0).astype(np.float32))


def _tiles(size: int, seed: int) -> list[tuple[np.ndarray, str, str]]:
    faces = [(expression_face(i), name, "expression") for i, name in enumerate(EXPRESSIONS)]
    neutral = FaceParams()
    faces.append((neutral, "neutral face", "(reference)"))
    faces += [(neutral.with_aus(**{f"au{au}": 1.0}), f"AU{au}", AU_DESCRIPTIONS[au]) for au in AUS]
    for spec in preset_databases("affect", 1.0)[:COLUMNS]:
        faces.append((make_sample(spec, seed, 7).params, spec.name.removeprefix("synth_"), "sample"))
    images = render_faces([params for params, _, _ in faces], size)  # one batch
    tiles = [(image, title, subtitle) for image, (_, title, subtitle) in zip(images, faces)]
    blank = (np.full((size, size, 3), 255, np.uint8), "", "")
    return tiles[:len(EXPRESSIONS)] + [blank] * (COLUMNS - len(EXPRESSIONS)) + tiles[len(EXPRESSIONS):]


def save_grid(path: str | Path, size: int = 96, seed: int = 0) -> Path:
    """Write the grid PNG: row 1 expressions, rows 2-3 single AUs at intensity 1, row 4 one
    sample of each affect database (with its nuisance)."""
    tiles = _tiles(size, seed)
    rows = -(-len(tiles) // COLUMNS)
    sheet = Image.new("RGB", (COLUMNS * size, rows * (size + LABEL_H)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for k, (image, title, subtitle) in enumerate(tiles):
        x, y = (k % COLUMNS) * size, (k // COLUMNS) * (size + LABEL_H)
        sheet.paste(Image.fromarray(image), (x, y))
        draw.text((x + 3, y + size + 1), title, fill="black", font=font)
        draw.text((x + 3, y + size + 13), subtitle, fill=(90, 90, 90), font=font)
    path = Path(path)
    with atomic.replacing(path) as tmp:
        sheet.save(tmp)  # the format from the suffix, which the temporary name keeps
    return path
