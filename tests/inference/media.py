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


def damage_mjpeg_frames(path: Path, frames: list[int], out: Path) -> Path:
    """A copy of an MJPG AVI (write_face_video with fourcc "MJPG") whose listed frames (0-based) have
    their JPEG data zeroed: the chunks stay where they are, OpenCV cannot decode those frames."""
    data = bytearray(Path(path).read_bytes())
    chunks, at = [], 0
    while (at := data.find(b"00dc", at)) >= 0:
        size = int.from_bytes(data[at + 4:at + 8], "little")
        if data[at + 8:at + 10] == b"\xff\xd8":  # a frame's chunk (the index lists them again, without data)
            chunks.append((at + 8, size))
        at += 4
    for k in frames:
        start, size = chunks[k]
        data[start:start + size] = bytes(size)
    out.write_bytes(bytes(data))
    return out
