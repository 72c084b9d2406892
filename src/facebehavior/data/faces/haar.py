"""OpenCV's frontal-face Haar cascade: an offline fallback that gives boxes only.

Landmarks are placed at their mean positions inside the box (`estimate_landmarks`), so alignment
is coarser than with a landmark detector. The cascade XML ships inside ``opencv-python(-headless)``
4.x (``cv2.data.haarcascades``); OpenCV 5 removed ``CascadeClassifier`` from the main package.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facebehavior.data.faces.base import Detector, Face, estimate_landmarks
from facebehavior.errors import FaceBehaviorError

CASCADE_FILE = "haarcascade_frontalface_default.xml"


def _default_cascade() -> Path | None:
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    path = Path(folder) / CASCADE_FILE if folder else None
    return path if path is not None and path.is_file() else None


class HaarDetector(Detector):
    name = "haar"

    def __init__(self, model_path: str | Path | None = None, scale_factor: float = 1.1, min_neighbors: int = 5,
                 min_size: int = 20, **base_options):
        super().__init__(**base_options)
        if not hasattr(cv2, "CascadeClassifier"):
            raise FaceBehaviorError(
                f"the haar detector needs cv2.CascadeClassifier, which OpenCV {cv2.__version__} lacks "
                "(OpenCV 5 dropped it); install opencv-python-headless<5 or use --detector mtcnn")
        path = Path(model_path) if model_path else _default_cascade()
        if path is None or not path.is_file():
            raise FaceBehaviorError(f"no Haar cascade file found (looked for {model_path or CASCADE_FILE} "
                                    "in cv2.data.haarcascades); pass model_path")
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise FaceBehaviorError(f"OpenCV cannot read the Haar cascade {path}")
        self.scale_factor, self.min_neighbors, self.min_size = scale_factor, min_neighbors, min_size

    def _detect(self, image: np.ndarray) -> list[Face]:
        gray = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
        boxes, _, weights = self._cascade.detectMultiScale3(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size), outputRejectLevels=True)
        faces = []
        for box, weight in zip(np.asarray(boxes, np.float64).reshape(-1, 4), np.ravel(weights)):
            # The cascade's level weight is unbounded; squash it into (0, 1) as a rough score.
            score = float(1 / (1 + np.exp(-weight)))
            faces.append(Face(box, estimate_landmarks(box), score, landmarks_estimated=True))
        return faces
