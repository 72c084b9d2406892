"""Test media: a real face (skimage's astronaut) moving over a background, written as a video."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def astronaut_head() -> np.ndarray:
    """The astronaut's head and shoulders (RGB, about 220×260; face about 90 px wide)."""
    from skimage import data

    return data.astronaut()[0:260, 110:330].copy()


def background(width: int, height: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([60 + 80 * x / width, 90 + 60 * y / height, 120 - 40 * x / width], -1)
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


def scene(t: float, width: int = 640, height: int = 480, scale: float = 1.0, head=None, bg=None) -> np.ndarray:
    """Frame at time `t` (s): the head drifting along a slow Lissajous path."""
    head = astronaut_head() if head is None else head
    if scale != 1.0:
        head = cv2.resize(head, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = (background(width, height) if bg is None else bg).copy()
    hh, hw = head.shape[:2]
    x = int((width - hw) / 2 + (width - hw) / 3 * np.sin(0.7 * t))
    y = int((height - hh) / 2 + (height - hh) / 4 * np.sin(1.1 * t))
    frame[y:y + hh, x:x + hw] = head
    return frame


def write_face_video(path: Path, seconds: float = 2.0, fps: float = 10.0, width: int = 640, height: int = 480,
                     scale: float = 1.0, fourcc: str = "mp4v") -> Path:
    """A video of the moving astronaut face, written with cv2.VideoWriter."""
    head, bg = astronaut_head(), background(width, height)
    if scale != 1.0:
        head = cv2.resize(head, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path} with {fourcc}")
    for i in range(int(round(seconds * fps))):
        writer.write(cv2.cvtColor(scene(i / fps, width, height, 1.0, head, bg), cv2.COLOR_RGB2BGR))
    writer.release()
    return path
