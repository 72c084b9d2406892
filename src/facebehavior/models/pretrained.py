"""Networks shipped inside the package, so a photo can be analysed right after `pip install`.

Each shipped model is an ordinary checkpoint folder (model.safetensors + meta.json) under
`facebehavior/weights/`, listed in `weights/models.json` with the SHA-256 of its weights, which is
checked before the weights are used: a damaged install fails with a clear error instead of
predicting from altered numbers. Nothing is downloaded. `DEFAULT` is what `analyze`,
`FaceBehavior.load()`, `export` and the ONNX backend use when no checkpoint is given; any
checkpoint folder or shipped model name can be passed instead.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from facebehavior.errors import CheckpointError

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
DEFAULT = "ferplus-expr"


def shipped_models(weights_dir: Path | None = None) -> dict[str, dict]:
    """Name → entry (folder, sha256, summary, results) of every model shipped in the package."""
    index = (weights_dir or WEIGHTS_DIR) / "models.json"
    if not index.is_file():
        return {}
    return json.loads(index.read_text())["models"]


def shipped_checkpoint(name: str = DEFAULT, weights_dir: Path | None = None) -> Path:
    """The checkpoint folder of the shipped model `name`, its weights' checksum verified."""
    weights_dir = weights_dir or WEIGHTS_DIR
    models = shipped_models(weights_dir)
    if name not in models:
        raise CheckpointError(f"no shipped model named {name!r}; shipped: {sorted(models) or 'none'} "
                              "(or pass a checkpoint folder / .onnx file)")
    entry = models[name]
    folder = weights_dir / entry["folder"]
    _verify(folder / "model.safetensors", entry["sha256"])
    return folder


@lru_cache(maxsize=8)
def _verify(file: Path, expected: str) -> None:
    if not file.is_file():
        raise CheckpointError(f"{file} is missing: the package install is incomplete; reinstall facebehavior")
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    if digest != expected:
        raise CheckpointError(f"{file}: SHA-256 {digest[:16]}… does not match the shipped {expected[:16]}…; "
                              "the install is damaged, reinstall facebehavior")


def resolve_checkpoint(path_or_name: str | Path | None) -> Path:
    """None → the default shipped model; a shipped model's name → its folder; else the path itself."""
    if path_or_name is None:
        return shipped_checkpoint(DEFAULT)
    if str(path_or_name) in shipped_models() and not Path(path_or_name).exists():
        return shipped_checkpoint(str(path_or_name))
    return Path(path_or_name)


def sha256_of(file: str | Path) -> str:
    return hashlib.sha256(Path(file).read_bytes()).hexdigest()
