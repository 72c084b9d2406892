"""Where the faces are: detection (optionally on a downscaled copy), 5-point alignment, and, in
videos, track ids plus optical-flow tracking of the landmarks between detections."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facebehavior.data.faces import Face, align_face, get_detector, resize_aligned, similarity_transform
from facebehavior.inference.timing import NO_TIMES, StageTimes
from facebehavior.inference.video import IoUTracker


@dataclass
class FoundFace:
    box: np.ndarray                  # (x, y, w, h) in source pixels
    landmarks: np.ndarray | None     # (5, 2) in source pixels; None for aligned inputs
    score: float | None              # detector confidence; None when no detector ran
    origin: str                      # "detector", "tracked" or "aligned_input"
    crop: np.ndarray                 # aligned (S, S, 3) uint8 RGB
    track_id: int | None = None


class FaceFinder:
    """Finds and aligns every face in an image.

    `aligned`: the image is already an aligned face crop (only resized). `detect_size`: images
    whose shorter side is larger are shrunk to it for detection (faster; landmarks mapped back).
    """

    def __init__(self, size: int = 112, detector: str = "mtcnn", detector_options: dict | None = None,
                 aligned: bool = False, detect_size: int | None = None, times: StageTimes = NO_TIMES):
        self.size, self.aligned, self.detect_size, self.times = size, aligned, detect_size, times
        self.detector_name, self.detector_options = detector, dict(detector_options or {})
        self._detector = None

    @property
    def detector(self):
        if self._detector is None:  # loading a detector costs time; aligned runs never need one
            self._detector = get_detector(self.detector_name, **self.detector_options)
        return self._detector

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in source pixels, ordered left to right."""
        h, w = image.shape[:2]
        scale = 1.0
        if self.detect_size and min(h, w) > self.detect_size:
            scale = self.detect_size / min(h, w)
            image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        detector = self.detector
        with self.times("detect"):
            faces = detector.detect(image)
        if scale != 1.0:
            faces = [f.moved(scale, 0.0, 0.0) for f in faces]
        return sorted(faces, key=lambda f: (f.box[0], f.box[1]))

    def align(self, image: np.ndarray, box, landmarks, score, origin: str) -> FoundFace:
        with self.times("align"):
            crop = align_face(image, landmarks, self.size)
        return FoundFace(np.asarray(box, np.float64), np.asarray(landmarks, np.float64), score, origin, crop)

    def find(self, image: np.ndarray) -> list[FoundFace]:
        if self.aligned:
            h, w = image.shape[:2]
            with self.times("align"):
                crop = resize_aligned(image, self.size)
            return [FoundFace(np.array([0.0, 0.0, w, h]), None, None, "aligned_input", crop)]
        return [self.align(image, f.box, f.landmarks, f.score, "detector") for f in self.detect(image)]


class VideoFaceTracker:
    """Faces of consecutive frames with track ids.

    With `detect_every` = K > 1 the detector runs on every K-th frame (and at once on a frame where
    a tracked face is lost); in between, the five landmarks follow the face by pyramidal Lucas-Kanade
    optical flow with a forward-backward check, and the box moves with their similarity transform.
    """

    def __init__(self, finder: FaceFinder, detect_every: int = 1, min_iou: float = 0.3, max_age: int = 15):
        self.finder, self.detect_every = finder, max(1, int(detect_every))
        self.ids = IoUTracker(min_iou, max_age)
        self.since_detection = 0
        self.prev_gray: np.ndarray | None = None
        self.prev: list[FoundFace] = []
        self.force_detection = True

    def step(self, image: np.ndarray) -> list[FoundFace]:
        if self.finder.aligned:
            faces = self.finder.find(image)
        else:
            gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if self.detect_every > 1 else None
            due = self.force_detection or self.since_detection + 1 >= self.detect_every or not self.prev
            faces = None if due else self._follow(image, gray)
            if faces is None or self.force_detection:  # due, or the flow lost a face: detect on this frame
                faces = self._detect(image)
            self.prev_gray = gray
        for face, track in zip(faces, self.ids.update([f.box for f in faces])):
            face.track_id = track
        self.prev = faces
        return faces

    def _detect(self, image) -> list[FoundFace]:
        self.since_detection, self.force_detection = 0, False
        return self.finder.find(image)

    def _follow(self, image, gray) -> list[FoundFace]:
        self.since_detection += 1
        with self.finder.times("track"):
            moved = self._flow(gray)
        faces = []
        for face, points in zip(self.prev, moved):
            if points is None:
                self.force_detection = True
            else:
                faces.append(self.finder.align(image, _moved_box(face.box, face.landmarks, points), points, None,
                                               "tracked"))
        return faces

    def _flow(self, gray) -> list[np.ndarray | None]:
        """Each previous face's landmarks in `gray`, or None where the flow lost them."""
        old = np.concatenate([f.landmarks for f in self.prev]).astype(np.float32).reshape(-1, 1, 2)
        params = dict(winSize=(21, 21), maxLevel=3,
                      criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))
        new, ok_fwd, _ = cv2.calcOpticalFlowPyrLK(self.prev_gray, gray, old, None, **params)
        back, ok_back, _ = cv2.calcOpticalFlowPyrLK(gray, self.prev_gray, new, None, **params)
        error = np.linalg.norm((back - old).reshape(-1, 2), axis=1).reshape(-1, 5)
        ok = (ok_fwd.reshape(-1, 5) > 0) & (ok_back.reshape(-1, 5) > 0)
        new = new.reshape(-1, 5, 2).astype(np.float64)
        # A point that does not come back to where it started has lost the face.
        return [points if good.all() and err.max() <= max(1.0, 0.03 * face.box[2]) else None
                for face, points, good, err in zip(self.prev, new, ok, error)]


def _moved_box(box, old_points, new_points) -> np.ndarray:
    """The box carried along by the similarity transform between two landmark sets."""
    matrix = similarity_transform(old_points, new_points)
    scale = float(np.hypot(*matrix[:, 0]))
    centre = matrix[:, :2] @ (box[:2] + box[2:] / 2) + matrix[:, 2]
    size = box[2:] * scale
    return np.array([*(centre - size / 2), *size])
