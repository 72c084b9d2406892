"""Fixtures: a tiny SynthFace preset, a tiny network trained on it, and a random-image compound set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from facebehavior.data.importers.labelspaces import RAFDB_COMPOUND
from tests.helpers import tiny_config

IMAGE_SIZE = 32


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory):
    from facebehavior.synthface import generate_preset

    out = tmp_path_factory.mktemp("synthface")
    generate_preset("affect", out, size=IMAGE_SIZE, seed=0, scale=0.01, workers=1)
    return out


def tiny_train_config(synth_dir, out_dir) -> dict:
    manifests = [synth_dir / db / "manifest.csv" for db in ("synth_rafdb", "synth_affectnet", "synth_disfa")]
    return tiny_config(manifests, out_dir, name="tiny_compound", image_size=IMAGE_SIZE, widths=(8, 8, 16, 16),
                       coupling=False, epochs=1, optimizer="adamw", log_every=20)


@pytest.fixture(scope="session")
def tiny_checkpoint(synth_dir, tmp_path_factory):
    """A network trained for one epoch on a few generated images (expr, AU and VA labels)."""
    from facebehavior.config import load_config
    from facebehavior.training.trainer import train

    cfg = load_config(base=tiny_train_config(synth_dir, tmp_path_factory.mktemp("run")))
    return train(cfg, say=lambda *_: None).best_checkpoint


@pytest.fixture(scope="session")
def random_compound_manifest(tmp_path_factory):
    """Random images labelled with RAF-DB's 11 compound classes: 4 train and 2 test rows per class,
    one unlabelled train row."""
    root = tmp_path_factory.mktemp("random_compound")
    rng = np.random.default_rng(0)
    (root / "img").mkdir()
    rows = []
    for i in range(len(RAFDB_COMPOUND) * 6 + 1):
        pixels = rng.integers(0, 255, (IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "img" / f"{i}.png")
        labelled = i < len(RAFDB_COMPOUND) * 6
        rows.append({"path": f"img/{i}.png", "database": "rafdb_compound",
                     "split": "train" if i % 6 < 4 or not labelled else "test",
                     "compound": (i // 6) if labelled else None})
    path = root / "manifest.csv"
    pd.DataFrame(rows).astype({"compound": "Int64"}).to_csv(path, index=False)
    return path
