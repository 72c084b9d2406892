"""Checkpoints trained here in seconds (random images, so the outputs mean nothing, but they are a
real network with real heads), test media with a real face, and the shared FER+ crops."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import pytest

from tests.inference.media import background, write_face_video
from tests.training.conftest import tiny_config, write_tiny_affect_data


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory) -> Path:
    """Expressions, AUs and valence/arousal all trained (32×32 input), by the real trainer."""
    from facebehavior.config import load_config
    from facebehavior.training.trainer import train

    root = tmp_path_factory.mktemp("ckpt_full")
    manifest = write_tiny_affect_data(root / "data", n=60)
    cfg = tiny_config(manifest, root / "run", epochs=1)
    return train(load_config(base=cfg), say=lambda *a: None).best_checkpoint


@pytest.fixture(scope="session")
def checkpoint_no_va(checkpoint, tmp_path_factory) -> Path:
    """The same network saved as a run that had no valence/arousal labels: its VA head is untrained."""
    from facebehavior.models.checkpoint import load_model, read_meta, save_checkpoint

    model, _, _ = load_model(checkpoint)
    meta = read_meta(checkpoint)
    meta.trained_tasks = [t for t in meta.trained_tasks if t != "va"]
    return save_checkpoint(tmp_path_factory.mktemp("ckpt_no_va") / "best", model, meta)


@pytest.fixture(scope="session")
def analyzer(checkpoint):
    from facebehavior.inference import FaceBehavior

    return FaceBehavior.load(checkpoint, batch_size=8)


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> dict[str, Path]:
    """A small image folder and videos: a face, a faceless image, a clip, and broken files."""
    from skimage import data

    root = tmp_path_factory.mktemp("media")
    (root / "images" / "sub").mkdir(parents=True)
    astronaut = root / "images" / "astronaut.jpg"
    cv2.imwrite(str(astronaut), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    blank = root / "images" / "sub" / "blank.png"
    cv2.imwrite(str(blank), background(160, 120))  # no face in it
    video = write_face_video(root / "clip.mp4", seconds=2.0, fps=10.0, width=320, height=240, scale=0.5)
    corrupt = root / "broken" / "corrupt.jpg"
    corrupt.parent.mkdir()
    corrupt.write_bytes(astronaut.read_bytes()[:300])  # a JPEG header and nothing else
    truncated = root / "broken" / "truncated.mp4"
    truncated.write_bytes(video.read_bytes()[: video.stat().st_size // 2])  # the MP4 index is at the end
    return {"root": root, "astronaut": astronaut, "blank": blank, "video": video, "corrupt": corrupt,
            "truncated": truncated}


def shared_dir() -> Path:
    default = Path(__file__).resolve().parents[2] / ".." / "shared"
    return Path(os.environ.get("FACEBEHAVIOR_SHARED", default))


@pytest.fixture(scope="session")
def ferplus_images() -> list[Path]:
    folder = shared_dir() / "data" / "ferplus" / "FER2013Test"
    if not folder.is_dir():
        pytest.skip(f"FER+ crops not found at {folder} (set FACEBEHAVIOR_SHARED)")
    return sorted(folder.glob("*.png"))[:12]


@pytest.fixture(scope="session")
def fer_like_checkpoint(checkpoint, tmp_path_factory) -> Path:
    """The tiny network saved as FER+ models are: fed gray 48×48 crops in FER2013's framing, with
    mirrored-crop averaging, trained on a real database (so no synthetic-domain warning)."""
    from facebehavior.models.preprocessing import Preprocessing
    from facebehavior.models.checkpoint import load_model, read_meta, save_checkpoint

    model, _, _ = load_model(checkpoint)
    meta = read_meta(checkpoint)
    meta.preprocessing = Preprocessing(image_size=48, crop="fer2013", grayscale=True, flip_average=True).to_dict()
    meta.training_databases = ["ferplus"]
    return save_checkpoint(tmp_path_factory.mktemp("ckpt_fer") / "best", model, meta)
