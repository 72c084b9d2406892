"""The PNG writer: standard, lossless PNGs at both compression settings."""

import io

import numpy as np
import pytest
from PIL import Image

from facebehavior.synthface import FaceParams, render_face
from facebehavior.synthface.params import Nuisance
from facebehavior.synthface import png
from facebehavior.synthface.png import encode_png, encode_pngs, write_file


@pytest.mark.parametrize("level", [0, 1])
def test_png_decodes_to_the_same_pixels(level, tmp_path):
    image = render_face(FaceParams(nuisance=Nuisance(noise=3.0, noise_seed=5)), 48)
    data = encode_png(image, level)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), image)
    write_file(tmp_path / "face.png", data)
    assert (tmp_path / "face.png").read_bytes() == data


def test_huffman_coding_compresses():
    image = render_face(FaceParams(nuisance=Nuisance(noise=3.0, noise_seed=5)), 64)
    assert len(encode_png(image, 1)) < 0.8 * len(encode_png(image, 0))


def test_bad_array_is_refused():
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((4, 4, 3), np.float32))


def test_rewriting_a_longer_file_leaves_no_old_bytes(tmp_path):
    path = tmp_path / "face.png"
    path.write_bytes(b"x" * 100_000)
    image = render_face(FaceParams(), 32)
    write_file(path, encode_png(image))
    assert path.read_bytes() == encode_png(image)


def test_without_isal_zlib_writes_the_same_pixels(monkeypatch):
    image = render_face(FaceParams(nuisance=Nuisance(noise=3.0, noise_seed=5)), 48)
    monkeypatch.setattr(png, "isal_zlib", None)
    data = encode_png(image)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), image)
    assert len(data) < 0.8 * len(encode_png(image, 0))


def test_a_batch_encodes_each_image_losslessly():
    # the row filter runs on the whole batch: no image may take rows from its neighbour
    faces = np.stack([render_face(FaceParams(nuisance=Nuisance(noise=2.0, noise_seed=k)), 32) for k in range(3)])
    for data, face in zip(encode_pngs(faces), faces):
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), face)
    with pytest.raises(ValueError, match="uint8"):
        encode_pngs(faces[0])
