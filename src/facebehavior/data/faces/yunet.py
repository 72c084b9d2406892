"""OpenCV's YuNet detector (``cv2.FaceDetectorYN``): boxes + the same five landmarks as MTCNN.

Optional: its ONNX file (``face_detection_yunet_2023mar.onnx``, MIT, from the OpenCV model zoo)
is not shipped by any package we depend on, so the user passes a local ``model_path``. We never
download it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facebehavior.data.faces.base import Detector, Face
from facebehavior.errors import FaceBehaviorError


class YuNetDetector(Detector):
    name = "yunet"

    def __init__(self, model_path: str | Path | None = None, score_threshold: float = 0.7,
                 nms_threshold: float = 0.3, top_k: int = 50, **base_options):
        super().__init__(**base_options)
        if model_path is None:
            raise FaceBehaviorError(
                "the yunet detector needs model_path (--model-path): a local copy of "
                "face_detection_yunet_2023mar.onnx from the OpenCV model zoo; facebehavior never downloads "
                "weights. The mtcnn detector works offline from an installed package.")
        if not Path(model_path).is_file():
            raise FaceBehaviorError(f"yunet model file {model_path} does not exist")
        if not hasattr(cv2, "FaceDetectorYN"):
            raise FaceBehaviorError(f"OpenCV {cv2.__version__} has no FaceDetectorYN; install opencv >= 4.5.4")
        try:
            self._net = cv2.FaceDetectorYN.create(str(model_path), "", (320, 320), score_threshold,
                                                  nms_threshold, top_k)
        except cv2.error as exc:
            raise FaceBehaviorError(f"OpenCV cannot load {model_path} as a YuNet model: {exc}") from exc

    def _detect(self, image: np.ndarray) -> list[Face]:
        h, w = image.shape[:2]
        self._net.setInputSize((w, h))
        _, rows = self._net.detect(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        faces = []
        # Each row: x, y, w, h, then (x, y) of the eye on the image's left, the other eye, the nose
        # tip, the left and right mouth corners, then the score.
        for row in rows if rows is not None else []:
            faces.append(Face(row[:4].astype(np.float64), row[4:14].reshape(5, 2).astype(np.float64),
                              float(row[14])))
        return faces
