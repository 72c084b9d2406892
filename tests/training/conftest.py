"""A tiny three-database manifest of random images (EXPR-only, AU-only, VA-only) and a config."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from tests.helpers import tiny_config  # noqa: F401  (re-exported: tests import it from here)

AU_SUBSET = ["au1", "au2", "au4", "au6", "au12", "au25"]


def write_tiny_affect_data(root, n: int = 180, size: int = 32, seed: int = 0):
    rng = np.random.default_rng(seed)
    (root / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(root / "img" / f"{i}.png")
        row = {"path": f"img/{i}.png", "split": "train" if i < int(n * 0.75) else "val"}
        kind = i % 3
        if kind == 0:
            row.update(database="db_expr", expr=int(rng.integers(7)))
        elif kind == 1:
            row.update(database="db_au", **{a: int(rng.integers(2)) for a in AU_SUBSET})
        else:
            row.update(database="db_va", valence=float(rng.uniform(-1, 1)), arousal=float(rng.uniform(-1, 1)))
        rows.append(row)
    path = root / "manifest.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def tiny_manifest(tmp_path_factory):
    return write_tiny_affect_data(tmp_path_factory.mktemp("tiny_affect"))


def write_config(path, cfg: dict):
    path.write_text(yaml.safe_dump(cfg))
    return path
