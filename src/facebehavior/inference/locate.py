"""Where the faces are: detection at a chosen scale, 5-point alignment, and, in videos, track ids
plus optical-flow tracking of the landmarks between detections.

Detection scale. MTCNN's cost grows with the image area over the square of the smallest face it
must find. `min_face` names that face (box width in source pixels): the frame is shrunk so such a
face becomes the detector's own minimum (20 px for MTCNN), landmarks are mapped back, alignment
uses the full-resolution frame. `detect_size` caps the shorter side of the detection copy; with
neither it nor `min_face`, the copy's shorter side is at most MAX_DETECT_SIDE (2000 px), so time and
memory stay bounded on huge photos (the smallest face found is then 20 px × shorter side / 2000, e.g.
100 px in a 10000-px photo; a `detect_size` above the image's size lifts the bound).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from facebehavior.data.faces import Face, align_face, box_iou, get_detector, resize_aligned, similarity_transform
from facebehavior.errors import FaceBehaviorError
from facebehavior.inference.timing import NO_TIMES, StageTimes
from facebehavior.inference.video import IoUTracker

AUTO = "auto"
VIDEO_MIN_FACE_FRACTION = 12  # videos, auto: the smallest face is 1/12 of the frame's shorter side (40 px at 480)
REFINE_BELOW_PX = 40  # faces smaller than this in the detection copy are found again at full resolution
REFINE_SIDE, REFINE_MIN_FACE = 160, 56  # that cut-out's shorter side (the face ~80 px in it), its smallest face
MAX_DETECT_SIDE = 2000  # with neither detect_size nor min_face: detection on a copy whose shorter side is at
                        # most this (a 10000×10000 photo took 51 s and 7.6 GB at full size); faces it shows
                        # small are found again at full resolution (REFINE_*)


@dataclass
class FoundFace:
    box: np.ndarray                  # (x, y, w, h) in source pixels
    landmarks: np.ndarray | None     # (5, 2) in source pixels; None for aligned inputs
    score: float | None              # detector confidence; None when no detector ran
    origin: str                      # "detector", "tracked" or "aligned_input"
    crop: np.ndarray                 # aligned (S, S, 3) uint8 RGB
    track_id: int | None = None


def native_min_face(detector) -> int | None:
    """The smallest face the detector looks for at full resolution, or None when it has no such knob."""
    value = getattr(detector, "min_face_size", None) or getattr(detector, "min_size", None)
    return int(value) if value else None


class FaceFinder:
    """Finds and aligns every face in an image.

    `aligned`: the image is already an aligned face crop (only resized). `detect_size`: images
    whose shorter side is larger are shrunk to it for detection. `min_face` (per call): see the
    module docstring; None = the detector's own minimum (no shrinking). `points`: the 5-point template
    faces are aligned to, in pixels of the `size` crop (the model's `Preprocessing.template()`;
    default ArcFace's).
    """

    def __init__(self, size: int = 112, detector: str = "mtcnn", detector_options: dict | None = None,
                 aligned: bool = False, detect_size: int | None = None, times: StageTimes = NO_TIMES,
                 points: np.ndarray | None = None):
        self.size, self.aligned, self.detect_size, self.times = size, aligned, detect_size, times
        self.points = points
        self.detector_name, self.detector_options = detector, dict(detector_options or {})
        self._detector = self._refiner = None

    @property
    def detector(self):
        if self._detector is None:  # loading a detector costs time; aligned runs never need one
            self._detector = get_detector(self.detector_name, **self.detector_options)
        return self._detector

    @property
    def native_min_face(self) -> int | None:
        return native_min_face(self.detector)

    def scale_for(self, height: int, width: int, min_face: int | None = None) -> float:
        """How much the image is shrunk for detection (1 = not at all)."""
        short = min(height, width)
        cap = self.detect_size or (None if min_face else MAX_DETECT_SIDE)
        scale = cap / short if cap and short > cap else 1.0
        if min_face:
            native = self.native_min_face
            if native is None:
                raise FaceBehaviorError(f"--min-face needs a detector with a minimum face size (mtcnn, haar); "
                                        f"{self.detector_name!r} has none: use --detect-size instead")
            scale = min(scale, native / min_face)
        # Below the detector's small-image size it would only scale the copy back up.
        small_side = getattr(self.detector, "small_side", 0)
        return min(1.0, max(scale, small_side / short))

    def detect(self, image: np.ndarray, min_face: int | None = None) -> list[Face]:
        """Faces in source pixels, ordered left to right."""
        h, w = image.shape[:2]
        detector = self.detector
        scale = self.scale_for(h, w, min_face)
        small = image
        if scale < 1.0:
            small = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        with self.times("detect"):
            faces = detector.detect(small)
            if scale < 1.0:
                faces = [self._refined(image, f.moved(small.shape[1] / w, 0.0, 0.0), scale) for f in faces]
        return sorted(faces, key=lambda f: (f.box[0], f.box[1]))

    def _refined(self, image: np.ndarray, face: Face, scale: float) -> Face:
        """A face the shrunk copy showed too small for precise landmarks (MTCNN's last stage works at
        48 px), found again on a full-resolution cut-out around it, where it is ~80 px wide."""
        if face.box[2] * scale >= REFINE_BELOW_PX or self.refiner is None:
            return face
        x, y, bw, bh = face.box
        x0, y0 = max(0, int(x - 0.5 * bw)), max(0, int(y - 0.5 * bh))
        x1, y1 = min(image.shape[1], int(x + 1.5 * bw)), min(image.shape[0], int(y + 1.5 * bh))
        if min(x1 - x0, y1 - y0) < 8:
            return face
        k = REFINE_SIDE / min(x1 - x0, y1 - y0)
        cut = cv2.resize(image[y0:y1, x0:x1], None, fx=k, fy=k, interpolation=cv2.INTER_LINEAR)
        again = [f.moved(k, -x0, -y0) for f in self.refiner.detect(cut)]
        best = max(again, key=lambda f: box_iou(f.box, face.box), default=None)
        return best if best is not None and box_iou(best.box, face.box) >= 0.5 else face

    @property
    def refiner(self):
        """The detector again, looking only for faces near the cut-out's size (a short pyramid)."""
        if self._refiner is None and hasattr(self.detector, "min_face_size"):
            self._refiner = get_detector(self.detector_name, **{**self.detector_options,
                                                                "min_face_size": REFINE_MIN_FACE})
        return self._refiner

    def align(self, image: np.ndarray, box, landmarks, score, origin: str) -> FoundFace:
        with self.times("align"):
            crop = align_face(image, landmarks, self.size, self.points)
        return FoundFace(np.asarray(box, np.float64), np.asarray(landmarks, np.float64), score, origin, crop)

    def find(self, image: np.ndarray, min_face: int | None = None, retry_padded: bool = False) -> list[FoundFace]:
        """Every face, aligned. `retry_padded` (stills): when none is found, search once more on a
        padded copy (`detect_padded`); videos leave it off, their tracker re-detects anyway."""
        if self.aligned:
            h, w = image.shape[:2]
            with self.times("align"):
                crop = resize_aligned(image, self.size)
            return [FoundFace(np.array([0.0, 0.0, w, h]), None, None, "aligned_input", crop)]
        faces = self.detect(image, min_face)
        if not faces and retry_padded:
            faces = self.detect_padded(image, min_face)
        return self.aligned_faces(image, faces)

    def detect_padded(self, image: np.ndarray, min_face: int | None = None) -> list[Face]:
        """Detection again on the image padded by a third of its longer side (replicated borders).

        MTCNN misses close-ups whose face fills or crosses the frame (its proposals need context
        around the face); with the margin it finds most of them. Used on stills that gave no face,
        so it costs nothing where the first pass succeeds."""
        h, w = image.shape[:2]
        scale = self.scale_for(h, w, min_face)
        base = image  # a large image is shrunk before it is padded: the padded copy stays bounded too
        if scale < 1.0:
            base = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
            scale = base.shape[1] / w
            min_face = min_face * scale if min_face else min_face
        pad = int(round(max(base.shape[:2]) / 3))
        padded = cv2.copyMakeBorder(base, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        return [f.moved(1.0, pad, pad).moved(scale, 0.0, 0.0) for f in self.detect(padded, min_face)]

    def aligned_faces(self, image: np.ndarray, faces: list[Face]) -> list[FoundFace]:
        return [self.align(image, f.box, f.landmarks, f.score, "detector") for f in faces]


@dataclass
class DetectionReport:
    """What the fast video settings may have cost in one video, for the run summary."""

    min_face_start: int | None = None   # px, the detection scale's smallest face at the start
    min_face_end: int | None = None     # ... at the end (lowered when a check found smaller faces)
    check_frames: int = 0               # frames detected at full sensitivity as a check
    faces_below_scale: int = 0          # faces found only at full sensitivity (confirmed on a second frame)
    lowered_at_frame: list[int] = field(default_factory=list)  # analysed-frame numbers where min face was lowered
    frames_at_risk: int = 0             # frames detected at the reduced scale before a lowering (may lack faces)
    late_faces: int = 0                 # new faces found by a scheduled detection after tracked frames
    late_frames: int = 0                # frames before those detections that may lack the new face (upper bound)
    redetections: int = 0               # detections forced because tracking lost a face or it changed too much

    def notes(self, source: str) -> list[str]:
        out = []
        if self.faces_below_scale and not self.frames_at_risk:
            out.append(f"{source}: faces smaller than {self.min_face_start} px at the start; detection ran at "
                       f"full sensitivity (min face {self.min_face_end} px) throughout, which is slower")
        elif self.faces_below_scale:
            out.append(f"{source}: {self.faces_below_scale} face(s) smaller than the detection scale's "
                       f"{self.min_face_start}-px minimum were found on check frames; the minimum was lowered to "
                       f"{self.min_face_end} px at analysed frame(s) {self.lowered_at_frame[:5]}; up to "
                       f"{self.frames_at_risk} frame(s) before may lack them (--min-face {self.min_face_end} "
                       f"analyses them from the start)")
        if self.late_faces:
            out.append(f"{source}: {self.late_faces} face(s) appeared between detections and were picked up "
                       f"by the next one: up to {self.late_frames} frame(s) before may lack them "
                       f"(--detect-every 1 detects on every frame)")
        return out


class VideoFaceTracker:
    """Faces of consecutive frames with track ids.

    With `detect_every` = K > 1 the detector runs on every K-th frame; in between, the five landmarks
    follow the face by pyramidal Lucas-Kanade optical flow with a forward-backward check, and the
    box moves with their similarity transform. The detector runs at once on a frame where a tracked
    face is lost or its aligned crop no longer looks like the one at the last detection.

    `min_face` (px, None = the detector's minimum, "auto" = 1/12 of the frame's shorter side) sets
    the detection scale. While it is above the detector's own minimum, every `check_every`-th frame
    (and the first) is detected at full sensitivity too; a face found only there, and again on the
    next frame, lowers `min_face` for the rest of the video (and is counted in `report`).
    """

    def __init__(self, finder: FaceFinder, detect_every: int = 1, min_face: int | str | None = None,
                 check_every: int = 60, min_iou: float = 0.3, max_age: int = 15, min_similarity: float = 0.7):
        self.finder, self.detect_every = finder, max(1, int(detect_every))
        self.min_face_setting, self.check_every = min_face, max(1, int(check_every))
        self.min_similarity = min_similarity
        self.ids = IoUTracker(min_iou, max_age)
        self.report = DetectionReport()
        self.min_face: int | None = None
        self.frame = 0                       # analysed frames so far
        self.since_detection = 0
        self.prev_gray: np.ndarray | None = None
        self.prev: list[FoundFace] = []
        self.signatures: list[np.ndarray] = []  # per face in `prev`: its crop at the last detection
        self.force_detection = True
        self.pending: list[np.ndarray] = []     # boxes found only at full sensitivity, to confirm next frame
        self.last_check = -1                    # the analysed frame of the latest check
        self.unchecked = 0                      # frames at the reduced scale before the latest first look

    def step(self, image: np.ndarray) -> list[FoundFace]:
        if self.finder.aligned:
            faces = self.finder.find(image)
        else:
            if self.frame == 0:
                self._start(image)
            gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if self.detect_every > 1 else None
            check = self._check_due()
            due = check or self.force_detection or self.since_detection + 1 >= self.detect_every
            faces = None if due else self._follow(image, gray)
            if faces is None or self.force_detection:  # due, or tracking lost a face: detect on this frame
                tracked_frames = self.since_detection if faces is None else 0  # a scheduled detection
                faces = self._detect(image, check)
                self._count_late(faces, tracked_frames)
            self.prev_gray = gray
        for face, track in zip(faces, self.ids.update([f.box for f in faces])):
            face.track_id = track
        self.prev = faces
        self.frame += 1
        return faces

    # ---- detection scale and its checks ---------------------------------------------------------

    def _start(self, image: np.ndarray) -> None:
        setting, native = self.min_face_setting, None
        if setting is not None:
            native = self.finder.native_min_face
        if setting == AUTO:
            setting = None if native is None else max(native, round(min(image.shape[:2]) / VIDEO_MIN_FACE_FRACTION))
        self.min_face = setting
        self.report.min_face_start = self.report.min_face_end = setting

    def _check_due(self) -> bool:
        native = self.finder.native_min_face if self.min_face else None
        if native is None or self.min_face <= native:
            return False
        return bool(self.pending) or self.frame % self.check_every == 0

    def _detect(self, image, check: bool) -> list[FoundFace]:
        self.since_detection, self.force_detection = 0, False
        if not check:
            faces = self.finder.find(image, self.min_face)
        else:
            self.report.check_frames += 1
            if not self.pending:  # a first look: the frames since the last check ran at the reduced scale
                self.unchecked = self.frame - self.last_check - 1
            self.last_check = self.frame
            full = self.finder.detect(image)
            fast = self.finder.detect(image, self.min_face)
            missed = [f.box for f in full if not any(box_iou(f.box, g.box) >= 0.3 for g in fast)]
            confirmed = [b for b in missed if any(box_iou(b, p) >= 0.3 for p in self.pending)]
            self.pending = [] if self.pending else missed  # one second look only
            if confirmed:
                self._lower_min_face(min(b[2] for b in confirmed), len(confirmed), self.unchecked)
            faces = self.finder.aligned_faces(image, full)
        self.signatures = [_signature(f.crop) for f in faces]
        return faces

    def _lower_min_face(self, width: float, count: int, unchecked: int) -> None:
        self.min_face = max(self.finder.native_min_face, int(0.8 * width))
        self.report.min_face_end = self.min_face
        self.report.faces_below_scale += count
        self.report.lowered_at_frame.append(self.frame)
        self.report.frames_at_risk += unchecked

    def _count_late(self, faces: list[FoundFace], tracked_frames: int) -> None:
        """New faces at a scheduled detection may have been in the frames tracked since the last one."""
        if tracked_frames == 0:
            return
        known = [f.box for f in self.prev]
        new = sum(1 for f in faces if not any(box_iou(f.box, b) >= 0.3 for b in known))
        self.report.late_faces += new
        self.report.late_frames += new * tracked_frames

    # ---- tracking between detections ------------------------------------------------------------

    def _follow(self, image, gray) -> list[FoundFace]:
        self.since_detection += 1
        if not self.prev:  # nothing to follow; a face appearing now is found by the next detection
            return []
        with self.finder.times("track"):
            moved = self._flow(gray)
        faces = []
        for face, points, reference in zip(self.prev, moved, self.signatures):
            if points is None:
                self.force_detection = True
                continue
            found = self.finder.align(image, _moved_box(face.box, face.landmarks, points), points, None, "tracked")
            if _similarity(_signature(found.crop), reference) < self.min_similarity:
                self.force_detection = True  # the crop drifted off the face, or the face changed a lot
            faces.append(found)
        if self.force_detection:
            self.report.redetections += 1
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


def _signature(crop: np.ndarray) -> np.ndarray:
    """A small zero-mean, unit-norm grey thumbnail of an aligned crop."""
    small = cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (24, 24), interpolation=cv2.INTER_AREA)
    v = small.astype(np.float32).ravel()
    v -= v.mean()
    return v / (np.linalg.norm(v) + 1e-6)


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation of two signatures (1 = identical up to brightness and contrast)."""
    return float(a @ b)


def _moved_box(box, old_points, new_points) -> np.ndarray:
    """The box carried along by the similarity transform between two landmark sets."""
    matrix = similarity_transform(old_points, new_points)
    scale = float(np.hypot(*matrix[:, 0]))
    centre = matrix[:, :2] @ (box[:2] + box[2:] / 2) + matrix[:, 2]
    size = box[2:] * scale
    return np.array([*(centre - size / 2), *size])
