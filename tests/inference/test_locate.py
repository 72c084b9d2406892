"""Face finding for videos: the detection scale, its full-sensitivity checks, and tracking between
detections, on frames with a real face (skimage's astronaut) at known places."""

import cv2
import numpy as np
import pytest

from facebehavior.errors import FaceBehaviorError
from facebehavior.inference.locate import FaceFinder, VideoFaceTracker, _signature, _similarity
from tests.inference.media import astronaut_head, background

BG = background(640, 480)


def frame_with(head: np.ndarray | None, x: int = 260, y: int = 160) -> np.ndarray:
    frame = BG.copy()
    if head is not None:
        frame[y:y + head.shape[0], x:x + head.shape[1]] = head
    return frame


def scaled_head(scale: float) -> np.ndarray:
    return cv2.resize(astronaut_head(), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def finder():
    return FaceFinder(32)


def test_min_face_sets_the_detection_scale(finder):
    assert finder.scale_for(480, 640) == 1.0
    assert finder.scale_for(480, 640, 40) == pytest.approx(0.5)  # MTCNN's own minimum is 20 px
    assert finder.scale_for(480, 640, 10) == 1.0                  # never enlarged
    assert finder.scale_for(480, 640, 200) == pytest.approx(1 / 3)  # not below MTCNN's 160-px small side
    capped = FaceFinder(32, detect_size=240)
    assert capped.scale_for(480, 640) == pytest.approx(0.5) and capped.scale_for(480, 640, 60) == pytest.approx(1 / 3)


def test_min_face_needs_a_detector_with_a_minimum():
    finder = FaceFinder(32, detector="none-such")
    finder._detector = object()  # a detector without a minimum face size (like yunet or scrfd)
    assert finder.scale_for(480, 640) == 1.0
    with pytest.raises(FaceBehaviorError, match="--detect-size instead"):
        finder.scale_for(480, 640, 40)


def test_small_face_at_the_start_lowers_the_scale_at_once(finder):
    frames = [frame_with(scaled_head(0.2), 100 + 3 * i) for i in range(8)]  # a face ~17 px wide
    tracker = VideoFaceTracker(finder, detect_every=5, min_face="auto", check_every=60)
    found = [tracker.step(f) for f in frames]
    assert all(len(faces) == 1 for faces in found)
    report = tracker.report
    assert report.min_face_start == 40 and report.min_face_end == 20  # MTCNN's own minimum
    assert report.faces_below_scale == 1 and report.frames_at_risk == 0
    assert "at the start" in report.notes("clip.mp4")[0]


def test_small_face_appearing_later_is_found_by_a_check_and_reported(finder):
    head = scaled_head(0.2)
    frames = [frame_with(None)] * 4 + [frame_with(head, 100 + 3 * i) for i in range(10)]
    tracker = VideoFaceTracker(finder, detect_every=3, min_face="auto", check_every=6)
    found = [tracker.step(f) for f in frames]
    assert [len(f) for f in found[4:6]] == [0, 0]  # at the 40-px scale the 17-px face is not seen
    assert all(len(f) == 1 for f in found[6:])     # the check at frame 6 finds it, frame 7 confirms
    report = tracker.report
    assert report.lowered_at_frame == [7] and report.frames_at_risk == 5  # frames 1-5 ran at the 40-px scale
    assert "up to 5 frame(s) before may lack them" in report.notes("clip.mp4")[0]


def test_face_appearing_between_detections_is_counted(finder):
    head = scaled_head(0.6)
    frames = [frame_with(None)] * 3 + [frame_with(head, 200 + 4 * i) for i in range(5)]
    tracker = VideoFaceTracker(finder, detect_every=5, min_face=None)
    counts = [len(tracker.step(f)) for f in frames]
    assert counts == [0, 0, 0, 0, 0, 1, 1, 1]  # detector on frames 0 and 5 only
    assert tracker.report.late_faces == 1 and tracker.report.late_frames == 4
    assert "up to 4 frame(s) before may lack them" in tracker.report.notes("clip.mp4")[0]


def test_tracked_faces_follow_and_a_changed_face_is_detected_again(finder):
    from skimage import data

    head = scaled_head(0.6)
    other = cv2.resize(data.camera()[40:260, 140:340], head.shape[1::-1])  # another face, grey
    frames = [frame_with(head, 200 + 3 * i) for i in range(4)] + [frame_with(np.dstack([other] * 3), 212)]
    tracker = VideoFaceTracker(finder, detect_every=10, min_face=None)
    origins = [[f.origin for f in tracker.step(image)] for image in frames]
    assert origins[:4] == [["detector"], ["tracked"], ["tracked"], ["tracked"]]
    assert origins[4] in (["detector"], [])  # the new content made the detector run again
    assert tracker.report.redetections == 1


def test_crop_similarity_tells_the_same_face_from_another(finder):
    from skimage import data

    face = finder.find(data.astronaut())[0]
    shifted = finder.align(data.astronaut(), face.box, face.landmarks + [1.5, -1.0], None, "tracked")
    other = cv2.resize(np.dstack([data.camera()[60:180, 210:330]] * 3), face.crop.shape[1::-1])
    reference = _signature(face.crop)
    assert _similarity(_signature(shifted.crop), reference) > 0.9
    assert _similarity(_signature(other), reference) < 0.7


def test_small_faces_in_the_shrunk_copy_get_full_resolution_landmarks(finder, monkeypatch):
    from facebehavior.inference import locate

    def errors():  # landmark error at the 40-px scale against full-resolution detection, faces 40-67 px
        out = []
        for scale in (0.45, 0.55, 0.65, 0.75):
            for shift in (0, 2, 5):
                frame = frame_with(scaled_head(scale), 100 + shift, 160 + shift)
                exact = finder.detect(frame)[0].landmarks
                marks = finder.detect(frame, 40)[0].landmarks
                out.append(np.linalg.norm(marks - exact, axis=1).mean() / np.linalg.norm(exact[1] - exact[0]))
        return np.array(out)

    refined = errors()
    monkeypatch.setattr(locate, "REFINE_BELOW_PX", 0)  # the landmarks of the half-size copy as they are
    coarse = errors()
    assert (refined != coarse).all()
    assert refined.mean() < 0.9 * coarse.mean()


def test_a_still_without_a_face_is_searched_again_with_a_margin_and_mapped_back(monkeypatch):
    from facebehavior.data.faces import Face
    from facebehavior.inference.locate import FaceFinder

    finder = FaceFinder(32)
    seen = []

    def detect(image, min_face=None):
        seen.append(image.shape[:2])
        if len(seen) == 1:
            return []  # the close-up: nothing found on the frame itself
        marks = np.array([[50, 50], [70, 50], [60, 60], [52, 70], [68, 70]], np.float64)
        return [Face(np.array([40.0, 40.0, 40.0, 40.0]), marks, 0.99)]

    monkeypatch.setattr(finder, "detect", detect)
    image = np.full((60, 90, 3), 128, np.uint8)
    assert finder.find(image) == [] and len(seen) == 1  # video frames: no second search
    seen.clear()
    faces = finder.find(image, retry_padded=True)
    assert seen == [(60, 90), (60 + 60, 90 + 60)]  # padded by a third of the longer side on each edge
    assert len(faces) == 1 and np.allclose(faces[0].box, [10, 10, 40, 40])  # in the frame's own pixels
    assert np.allclose(faces[0].landmarks[0], [20, 20])


class _RecordingDetector:
    """Records the size of every image it is given; finds one face at a fixed place in the first."""

    def __init__(self, box=None):
        self.shapes, self.box = [], box

    def detect(self, image):
        from facebehavior.data.faces import Face

        self.shapes.append(image.shape[:2])
        if self.box is None:
            return []
        x, y, w, h = self.box
        marks = np.array([[x + 0.3 * w, y + 0.4 * h], [x + 0.7 * w, y + 0.4 * h], [x + 0.5 * w, y + 0.6 * h],
                          [x + 0.35 * w, y + 0.8 * h], [x + 0.65 * w, y + 0.8 * h]])
        return [Face(np.array(self.box, np.float64), marks, 0.99)]


def test_a_huge_photo_is_searched_on_a_bounded_copy_and_faces_map_back():
    from facebehavior.inference.locate import MAX_DETECT_SIDE

    image = np.zeros((6000, 8000, 3), np.uint8)  # stands for a 10000×10000 photo (51 s and 7.6 GB before)
    finder = FaceFinder(32)
    finder._detector = _RecordingDetector(box=(100, 200, 150, 150))  # in the detection copy's pixels
    faces = finder.find(image, retry_padded=True)
    assert finder._detector.shapes == [(MAX_DETECT_SIDE, round(8000 * MAX_DETECT_SIDE / 6000))]
    scale = 6000 / MAX_DETECT_SIDE
    assert len(faces) == 1
    assert np.allclose(faces[0].box, [100 * scale, 200 * scale, 150 * scale, 150 * scale], rtol=1e-3)
    # no face: the padded second search is bounded too, and nothing is made at the padded full size
    finder._detector = _RecordingDetector()
    assert finder.find(image, retry_padded=True) == []
    assert len(finder._detector.shapes) == 2 and all(min(s) <= MAX_DETECT_SIDE for s in finder._detector.shapes)
    # a size the user gives is kept: --detect-size, or a --min-face
    finder = FaceFinder(32, detect_size=1000)
    finder._detector = _RecordingDetector()
    finder.detect(image)
    assert finder._detector.shapes == [(1000, 1333)]
    assert FaceFinder(32).scale_for(6000, 8000) == pytest.approx(MAX_DETECT_SIDE / 6000)
    assert FaceFinder(32).scale_for(1500, 2000) == 1.0  # photos of usual sizes: as before


def test_a_face_found_in_the_padded_copy_of_a_huge_photo_maps_back(monkeypatch):
    finder = FaceFinder(32)
    image = np.zeros((4000, 6000, 3), np.uint8)
    k = 2000 / 4000
    pad = round(max(2000, 3000) / 3)
    finder._detector = _RecordingDetector()
    boxes = []
    real_detect = finder.detect

    def detect(img, min_face=None):
        if img.shape[:2] == (4000, 6000):
            real_detect(img, min_face)
            return []
        boxes.append(img.shape[:2])
        from facebehavior.data.faces import Face

        marks = np.array([[560, 360], [640, 360], [600, 400], [570, 450], [630, 450]], np.float64) + pad
        return [Face(np.array([pad + 500.0, pad + 300.0, 200.0, 200.0]), marks, 0.9)]

    monkeypatch.setattr(finder, "detect", detect)
    faces = finder.find(image, retry_padded=True)
    assert boxes == [(2000 + 2 * pad, 3000 + 2 * pad)]  # the padded copy of the shrunk photo
    assert np.allclose(faces[0].box, [500 / k, 300 / k, 200 / k, 200 / k])
