"""Face detection (a registry of backends) and 5-point alignment to 112×112 crops."""

from facebehavior.data.faces.alignment import (ARCFACE_TEMPLATE_112, align_face, resize_aligned,
                                               similarity_transform, template)
from facebehavior.data.faces.base import Detector, Face, as_rgb, box_iou, estimate_landmarks, pick_main_face
from facebehavior.data.faces.registry import detector_info, get_detector, list_detectors, register_detector

__all__ = [
    "ARCFACE_TEMPLATE_112", "Detector", "Face", "align_face", "as_rgb", "box_iou", "detector_info",
    "estimate_landmarks", "get_detector", "list_detectors", "pick_main_face", "register_detector",
    "resize_aligned", "similarity_transform", "template",
]
