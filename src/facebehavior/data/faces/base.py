"""What every face detector returns, and the shared handling of small, tightly cropped images.

Landmark order everywhere (the MTCNN / InsightFace convention): the eye on the image's left, the
eye on the image's right, the nose tip, the mouth corner on the image's left, the mouth corner on
the image's right. All coordinates are in pixels of the image given to `Detector.detect`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class Face:
    """One detected face: box ``(x, y, w, h)``, five landmarks ``(5, 2)`` and a score in [0, 1]."""

    box: np.ndarray
    landmarks: np.ndarray
    score: float
    landmarks_estimated: bool = False  # True when a backend only found a box (see estimate_landmarks)

    @property
    def area(self) -> float:
        return float(max(self.box[2], 0) * max(self.box[3], 0))

    def moved(self, scale: float, dx: float, dy: float) -> "Face":
        """The face in the coordinates of an image that was padded by (dx, dy) then scaled."""
        box = np.array([self.box[0] / scale - dx, self.box[1] / scale - dy,
                        self.box[2] / scale, self.box[3] / scale], np.float64)
        marks = self.landmarks / scale - np.array([dx, dy])
        return Face(box, marks, self.score, self.landmarks_estimated)


# Mean positions of the five MTCNN landmarks relative to an MTCNN face box (x, y as fractions of
# the box width and height), measured with our MTCNN backend on 255 FER+ test faces and made
# left-right symmetric. Used only when a backend or a manifest gives a box without landmarks.
MEAN_LANDMARKS_IN_BOX = np.array([
    [0.280, 0.387], [0.720, 0.387], [0.500, 0.586], [0.317, 0.762], [0.683, 0.762],
])


def estimate_landmarks(box) -> np.ndarray:
    """Five landmarks placed at their average positions inside a face box ``(x, y, w, h)``."""
    x, y, w, h = (float(v) for v in box)
    return MEAN_LANDMARKS_IN_BOX * np.array([w, h]) + np.array([x, y])


class Detector:
    """Base class: subclasses implement `_detect` on an RGB uint8 image of workable size.

    `detect` first pads and upscales small images (e.g. 48×48 FER crops, where the face touches
    the image border and is smaller than most detectors' minimum face size), then maps the faces
    back to the caller's coordinates.
    """

    name = "base"

    def __init__(self, small_side: int = 160, pad: float = 0.25):
        self.small_side = small_side
        self.pad = pad

    def detect(self, image: np.ndarray) -> list[Face]:
        image = as_rgb(image)
        h, w = image.shape[:2]
        if min(h, w) >= self.small_side:
            return self._detect(image)
        dx, dy = int(round(w * self.pad)), int(round(h * self.pad))
        # Replicated borders give the detector some context around a face cut at the frame.
        padded = cv2.copyMakeBorder(image, dy, dy, dx, dx, cv2.BORDER_REPLICATE)
        scale = self.small_side / min(h, w)
        big = cv2.resize(padded, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        return [f.moved(scale, dx, dy) for f in self._detect(big)]

    def _detect(self, image: np.ndarray) -> list[Face]:
        raise NotImplementedError


def as_rgb(image: np.ndarray) -> np.ndarray:
    """A gray (H, W) / (H, W, 1) or RGBA image as contiguous RGB uint8."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2 or image.shape[2] == 1:
        image = cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2RGB)
    elif image.shape[2] == 4:
        image = image[:, :, :3]
    return np.ascontiguousarray(image)


def pick_main_face(faces: list[Face], width: int, height: int) -> Face | None:
    """The largest face, discounted by its distance from the image centre (0 at a corner)."""
    if not faces:
        return None
    centre = np.array([width / 2, height / 2])
    half_diag = float(np.hypot(width, height)) / 2 or 1.0

    def weight(face: Face) -> float:
        c = face.box[:2] + face.box[2:] / 2
        return face.area * max(0.0, 1.0 - float(np.hypot(*(c - centre))) / half_diag) + 1e-9 * face.area

    return max(faces, key=weight)


def box_iou(a, b) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes."""
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0
