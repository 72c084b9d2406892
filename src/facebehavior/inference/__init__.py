"""Analysing images and videos: the `FaceBehavior` API, video streaming, ONNX export, plots.

    from facebehavior.inference import FaceBehavior
    rows = FaceBehavior.load("runs/x/checkpoints/best").predict("photo.jpg")
"""

from facebehavior.inference.analyzer import AnalyzeOptions, FaceBehavior

__all__ = ["AnalyzeOptions", "FaceBehavior"]
