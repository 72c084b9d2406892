"""SCRFD decoding, checked on a tiny ONNX graph with the layout InsightFace exports.

No real SCRFD weights are available offline, so this checks anchor layout, distance decoding,
letterbox scaling and the error messages; not detection quality."""

import numpy as np
import pytest

from facebehavior.data.faces import get_detector
from facebehavior.errors import FaceBehaviorError

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

SIZE = 64  # model input; strides 8/16/32 give 8×8, 4×4, 2×2 grids with 2 anchors per cell
FACE_ANCHOR = (4 * 8 + 3) * 2  # stride 8, row 4, column 3, first anchor: centre (24, 32)
BOX_DIST = [1.0, 1.5, 1.0, 2.0]  # left, top, right, bottom in stride units
KPS = [-0.5, -0.5, 0.5, -0.5, 0.0, 0.25, -0.4, 1.0, 0.4, 1.0]


def _scrfd_like_model(path):
    outputs, nodes = [], []
    for kind, width in (("score", 1), ("bbox", 4), ("kps", 10)):
        for stride in (8, 16, 32):
            n = (SIZE // stride) ** 2 * 2
            value = np.zeros((n, width), np.float32)
            if stride == 8:
                value[FACE_ANCHOR] = {"score": [0.9], "bbox": BOX_DIST, "kps": KPS}[kind]
            name = f"{kind}_{stride}"
            nodes.append(helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name + "_v")))
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [n, width]))
    graph = helper.make_graph(nodes, "scrfd_like",
                              [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, SIZE, SIZE])], outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_scrfd_needs_a_model_file(tmp_path):
    with pytest.raises(FaceBehaviorError, match="model_path"):
        get_detector("scrfd")
    with pytest.raises(FaceBehaviorError, match="does not exist"):
        get_detector("scrfd", model_path=tmp_path / "none.onnx")


def test_scrfd_decodes_boxes_and_landmarks_from_anchor_distances(tmp_path):
    detector = get_detector("scrfd", model_path=_scrfd_like_model(tmp_path / "m.onnx"), small_side=1)
    faces = detector.detect(np.zeros((SIZE, SIZE, 3), np.uint8))
    assert len(faces) == 1
    np.testing.assert_allclose(faces[0].box, [16, 20, 16, 28])  # centre (24, 32) ± distances × 8
    expected = np.array([24.0, 32.0]) + np.array(KPS).reshape(5, 2) * 8
    np.testing.assert_allclose(faces[0].landmarks, expected)
    assert faces[0].score == pytest.approx(0.9)


def test_scrfd_maps_letterboxed_coordinates_back_to_the_image(tmp_path):
    detector = get_detector("scrfd", model_path=_scrfd_like_model(tmp_path / "m.onnx"), small_side=1)
    faces = detector.detect(np.zeros((SIZE // 2, SIZE * 2, 3), np.uint8))  # 128 wide: scaled by 1/2
    np.testing.assert_allclose(faces[0].box, [32, 40, 32, 56])
