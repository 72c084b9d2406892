"""Similarity fitting, 5-point alignment onto the ArcFace template, box-based landmark estimates."""

import cv2
import numpy as np
import pytest

from facebehavior.data.faces import (ARCFACE_TEMPLATE_112, Face, align_face, estimate_landmarks, pick_main_face,
                                     resize_aligned, similarity_transform, template)


def _rotation(deg: float) -> np.ndarray:
    t = np.deg2rad(deg)
    return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])


def test_similarity_transform_recovers_a_known_transform():
    src = np.random.default_rng(0).uniform(0, 100, (5, 2))
    dst = 1.7 * src @ _rotation(25).T + np.array([12.0, -4.0])
    matrix = similarity_transform(src, dst)
    np.testing.assert_allclose(matrix[:, :2], 1.7 * _rotation(25), atol=1e-9)
    np.testing.assert_allclose(matrix[:, 2], [12.0, -4.0], atol=1e-9)


def test_similarity_transform_never_reflects():
    src = template()
    mirrored = src * np.array([-1.0, 1.0])
    assert np.linalg.det(similarity_transform(src, mirrored)[:, :2]) > 0


def test_similarity_transform_rejects_degenerate_points():
    with pytest.raises(ValueError, match="one point"):
        similarity_transform(np.ones((5, 2)), template())


def _dots_image(points: np.ndarray, shape=(400, 500)) -> np.ndarray:
    image = np.zeros((*shape, 3), np.uint8)
    for k, (x, y) in enumerate(points):
        cv2.circle(image, (int(round(x)), int(round(y))), 3, (40 * (k + 2), 255, 255 - 40 * k), -1)
    return image


def _dot_centres(crop: np.ndarray) -> np.ndarray:
    gray = crop[:, :, 1].astype(float)
    n, labels = cv2.connectedComponents((gray > 100).astype(np.uint8))
    centres = [np.argwhere(labels == i)[:, ::-1].mean(0) for i in range(1, n)]
    return np.array(centres)


@pytest.mark.parametrize("size", [112, 224])
def test_align_face_puts_landmarks_on_the_template(size):
    # A tilted, shifted, enlarged face: landmarks = template under a known similarity.
    source = 2.5 * ARCFACE_TEMPLATE_112 @ _rotation(-20).T + np.array([150.0, 90.0])
    crop = align_face(_dots_image(source), source, size)
    assert crop.shape == (size, size, 3)
    found = _dot_centres(crop)
    assert len(found) == 5
    for point in template(size):
        assert np.min(np.hypot(*(found - point).T)) < 1.0


def test_align_face_downscales_large_faces_without_losing_landmarks():
    source = 9.0 * ARCFACE_TEMPLATE_112 + np.array([50.0, 40.0])
    image = np.zeros((1200, 1200, 3), np.uint8)
    for x, y in source:
        cv2.circle(image, (int(x), int(y)), 18, (255, 255, 255), -1)
    crop = align_face(image, source, 112)
    found = _dot_centres(crop)
    assert len(found) == 5
    for point in template(112):
        assert np.min(np.hypot(*(found - point).T)) < 1.0


def test_align_face_rejects_non_finite_landmarks():
    with pytest.raises(ValueError, match="non-finite"):
        align_face(np.zeros((50, 50, 3), np.uint8), np.full(10, np.nan))


def test_resize_aligned_keeps_or_resizes():
    image = np.zeros((48, 48, 3), np.uint8)
    assert resize_aligned(image, 112).shape == (112, 112, 3)
    assert resize_aligned(np.zeros((112, 112, 3), np.uint8), 112).shape == (112, 112, 3)


def test_estimated_landmarks_are_inside_the_box_and_symmetric():
    box = np.array([10.0, 20.0, 100.0, 120.0])
    marks = estimate_landmarks(box)
    assert ((marks >= box[:2]) & (marks <= box[:2] + box[2:])).all()
    centre_x = box[0] + box[2] / 2
    np.testing.assert_allclose(marks[0, 0] + marks[1, 0], 2 * centre_x)
    assert marks[0, 1] < marks[2, 1] < marks[3, 1]


def _face(x, y, w, h):
    return Face(np.array([x, y, w, h], float), np.zeros((5, 2)), 0.9)


def test_pick_main_face_prefers_large_then_central():
    small_centre, big_corner = _face(90, 90, 20, 20), _face(0, 0, 60, 60)
    assert pick_main_face([small_centre, big_corner], 200, 200) is big_corner
    off_centre, centre = _face(0, 80, 40, 40), _face(80, 80, 40, 40)
    assert pick_main_face([off_centre, centre], 200, 200) is centre
    assert pick_main_face([], 200, 200) is None
