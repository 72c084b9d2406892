"""OpenCV's frontal-face Haar cascade: a fallback that gives boxes only.

Landmarks are placed at their mean positions inside the box (`estimate_landmarks`), so alignment
is coarser than with a landmark detector. It needs two things the project's default OpenCV 5
does not ship: ``cv2.CascadeClassifier`` (moved out of OpenCV's main package in 5.0) and a
cascade file (``opencv-python(-headless)`` 4.x carries them in ``cv2/data/``; 5.0 has none).
So the backend takes a local cascade ``model_path``; only when the installed OpenCV still ships
the XML is that file used by default. Use ``mtcnn`` for an offline detector that works as installed.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facebehavior.data.faces.base import Detector, Face, estimate_landmarks
from facebehavior.errors import FaceBehaviorError

CASCADE_FILE = "haarcascade_frontalface_default.xml"
FIX = ("use --detector mtcnn (works offline as installed), or install opencv-python-headless<5 and pass "
       f"--model-path /path/to/{CASCADE_FILE} (shipped in that package's cv2/data/ folder)")


def shipped_cascade() -> Path | None:
    """The frontal-face cascade inside the installed OpenCV package, if this OpenCV has one."""
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    path = Path(folder) / CASCADE_FILE if folder else None
    return path if path is not None and path.is_file() else None


def resolve_cascade(model_path: str | Path | None) -> Path:
    """The cascade to load: `model_path` when given (must exist), else the one OpenCV ships."""
    if model_path:
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise FaceBehaviorError(f"haar: cascade file {path} does not exist; pass the path of a local "
                                    f"{CASCADE_FILE}")
        return path
    path = shipped_cascade()
    if path is None:
        folder = getattr(getattr(cv2, "data", None), "haarcascades", "cv2.data (absent)")
        raise FaceBehaviorError(f"haar: OpenCV {cv2.__version__} ships no {CASCADE_FILE} (looked in {folder}), so "
                                f"the detector needs model_path; {FIX}")
    return path


class HaarDetector(Detector):
    name = "haar"

    def __init__(self, model_path: str | Path | None = None, scale_factor: float = 1.1, min_neighbors: int = 5,
                 min_size: int = 20, **base_options):
        super().__init__(**base_options)
        if not hasattr(cv2, "CascadeClassifier"):
            raise FaceBehaviorError(f"haar: the installed OpenCV {cv2.__version__} has no cv2.CascadeClassifier "
                                    f"(OpenCV 5 moved it out of the main package); {FIX}")
        path = resolve_cascade(model_path)
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise FaceBehaviorError(f"haar: OpenCV cannot read {path} as a cascade; is it a Haar cascade .xml?")
        self.cascade_path = path
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
