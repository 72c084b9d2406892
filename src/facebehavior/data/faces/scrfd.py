"""SCRFD (InsightFace's successor to RetinaFace) from a local ONNX file: boxes + five landmarks.

Optional: the models (e.g. ``det_10g.onnx``, ``scrfd_2.5g_bnkps.onnx``) come from InsightFace
under its own, non-commercial terms, so the user passes ``model_path``; nothing is downloaded.
The decoding follows the layout InsightFace exports: per stride (8, 16, 32 [, 64, 128]) one output
of scores, one of box distances and, for the ``kps`` models, one of landmark offsets, all in
stride units from anchor centres; 6/9 outputs mean 3 strides × 2 anchors, 10/15 mean 5 × 1.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facebehavior.data.faces.base import Detector, Face, estimate_landmarks
from facebehavior.data.faces.mtcnn import nms
from facebehavior.errors import FaceBehaviorError

LAYOUTS = {6: ((8, 16, 32), 2, False), 9: ((8, 16, 32), 2, True),
           10: ((8, 16, 32, 64, 128), 1, False), 15: ((8, 16, 32, 64, 128), 1, True)}


class SCRFDDetector(Detector):
    name = "scrfd"

    def __init__(self, model_path: str | Path | None = None, score_threshold: float = 0.5,
                 nms_threshold: float = 0.4, input_size: int = 640, threads: int = 1, **base_options):
        super().__init__(**base_options)
        if model_path is None:
            raise FaceBehaviorError(
                "the scrfd detector needs model_path (--model-path): a local SCRFD .onnx file from InsightFace "
                "(e.g. det_10g.onnx); facebehavior never downloads weights. The mtcnn detector works offline.")
        if not Path(model_path).is_file():
            raise FaceBehaviorError(f"scrfd model file {model_path} does not exist")
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise FaceBehaviorError(f"ONNX Runtime cannot load {model_path}: {exc}") from exc
        outputs = self.session.get_outputs()
        if len(outputs) not in LAYOUTS:
            raise FaceBehaviorError(f"{model_path} has {len(outputs)} outputs; an SCRFD export has 6, 9, 10 or 15")
        self.strides, self.anchors, self.has_kps = LAYOUTS[len(outputs)]
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in outputs]
        shape = self.session.get_inputs()[0].shape
        fixed = isinstance(shape[2], int) and isinstance(shape[3], int)
        self.input_wh = (shape[3], shape[2]) if fixed else (input_size, input_size)
        self.score_threshold, self.nms_threshold = score_threshold, nms_threshold

    def _letterbox(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Resize keeping the aspect ratio into the model's input, padding right and bottom."""
        h, w = image.shape[:2]
        in_w, in_h = self.input_wh
        scale = min(in_w / w, in_h / h)
        new_w, new_h = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
        canvas = np.zeros((in_h, in_w, 3), np.uint8)
        canvas[:new_h, :new_w] = cv2.resize(image, (new_w, new_h))
        return canvas, np.array([new_w / w, new_h / h])  # the exact per-axis scale after rounding

    def _centres(self, stride: int) -> np.ndarray:
        in_w, in_h = self.input_wh
        rows, cols = np.mgrid[: in_h // stride, : in_w // stride]
        centres = np.stack([cols, rows], -1).reshape(-1, 2).astype(np.float64) * stride
        return np.repeat(centres, self.anchors, axis=0)

    def _detect(self, image: np.ndarray) -> list[Face]:
        canvas, scale = self._letterbox(image)
        blob = ((canvas.astype(np.float32) - 127.5) / 128.0).transpose(2, 0, 1)[None]
        outs = [o[0] if o.ndim == 3 else o for o in self.session.run(self.output_names, {self.input_name: blob})]
        n = len(self.strides)
        boxes, marks = [], []
        for i, stride in enumerate(self.strides):
            centres, scores = self._centres(stride), outs[i].reshape(-1)
            keep = np.flatnonzero(scores >= self.score_threshold)
            dist = outs[i + n].reshape(-1, 4)[keep] * stride
            c = centres[keep]
            boxes.append(np.column_stack([c - dist[:, :2], c + dist[:, 2:], scores[keep]]))
            if self.has_kps:
                offsets = outs[i + 2 * n].reshape(-1, 5, 2)[keep] * stride
                marks.append(c[:, None, :] + offsets)
        boxes = np.vstack(boxes) if boxes else np.empty((0, 5))
        marks = np.vstack(marks) if self.has_kps and marks else None
        # nms() adds 1 to widths (MTCNN's convention); negligible at SCRFD's box sizes.
        pick = nms(boxes, self.nms_threshold) if len(boxes) else np.empty(0, np.int64)
        faces = []
        for k in pick:
            x1, y1, x2, y2, score = boxes[k] / np.array([*scale, *scale, 1.0])
            box = np.array([x1, y1, x2 - x1, y2 - y1])
            if marks is not None:
                faces.append(Face(box, marks[k] / scale, float(score)))
            else:
                faces.append(Face(box, estimate_landmarks(box), float(score), landmarks_estimated=True))
        return faces
