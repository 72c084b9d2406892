"""The photo path feeds the network what it was trained on: the aligned crop `analyze` makes of a
real photo, fed to the network directly, gives the same prediction."""

from __future__ import annotations

import numpy as np
import torch


def _analyzed_face(checkpoint, photo):
    from facebehavior.inference import FaceBehavior

    fb = FaceBehavior.load(checkpoint)
    rows = fb.predict(str(photo))
    ok = rows[rows["status"] == "ok"]
    assert len(ok) == 1
    return fb, ok.iloc[0]


def test_an_aligned_crop_of_a_photo_predicts_as_the_network_fed_that_crop(fer_like_checkpoint, media):
    from facebehavior.data.faces import align_face
    from facebehavior.data.transforms import load_image
    from facebehavior.inference.columns import LANDMARK_COLUMNS
    from facebehavior.models.checkpoint import load_model

    fb, row = _analyzed_face(fer_like_checkpoint, media["astronaut"])
    prep = fb.info.preprocessing
    assert (prep.image_size, prep.crop, prep.grayscale) == (48, "fer2013", True)
    landmarks = row[list(LANDMARK_COLUMNS)].to_numpy(np.float64).reshape(5, 2)
    crop = align_face(load_image(media["astronaut"]), landmarks, 48, prep.template())
    # by hand: gray as the mean of R, G, B, [-1, 1], the mirrored crop's logits averaged
    model, _, _ = load_model(fer_like_checkpoint)
    x = torch.from_numpy(crop).permute(2, 0, 1)[None].float().mean(1, keepdim=True).expand(-1, 3, -1, -1) / 127.5 - 1
    with torch.no_grad():
        logits = (model(x)["expr"] + model(x.flip(3))["expr"]) / 2
    by_hand = logits.softmax(1)[0].numpy()
    analysed = row[[f"expr_{c}" for c in fb.info.tasks[0].labels]].to_numpy(np.float64)
    assert np.abs(analysed - by_hand).max() < 1e-5
    # and the crop given as an already aligned input takes the same path
    again = fb.predict(crop, aligned=True).iloc[0][[f"expr_{c}" for c in fb.info.tasks[0].labels]]
    assert np.abs(again.to_numpy(np.float64) - by_hand).max() < 1e-5


def test_the_fer2013_template_frames_the_face_as_fer_crops_do(fer_like_checkpoint, media):
    """The crop `analyze` makes puts the detected eyes where FER2013's crops have them (measured on
    FER+ train), not where the ArcFace template does."""
    from facebehavior.data.faces import align_face, get_detector, pick_main_face
    from facebehavior.data.transforms import load_image
    from facebehavior.inference.columns import LANDMARK_COLUMNS
    from facebehavior.models.preprocessing import FER2013_48

    fb, row = _analyzed_face(fer_like_checkpoint, media["astronaut"])
    landmarks = row[list(LANDMARK_COLUMNS)].to_numpy(np.float64).reshape(5, 2)
    crop = align_face(load_image(media["astronaut"]), landmarks, 48, fb.info.preprocessing.template())
    again = pick_main_face(get_detector("mtcnn").detect(crop), 48, 48)
    assert again is not None
    assert np.abs(again.landmarks[:2] - FER2013_48[:2]).max() < 3.0  # eyes within 3 px of the template


def test_onnx_export_carries_the_preprocessing_and_matches_torch_on_the_photo(fer_like_checkpoint, media, tmp_path):
    from facebehavior.inference import FaceBehavior
    from facebehavior.inference.onnx_export import export_onnx

    summary = export_onnx(fer_like_checkpoint, tmp_path / "m.onnx")
    assert max(summary["max_abs_diff"].values()) < 1e-4
    torch_rows = FaceBehavior.load(fer_like_checkpoint).predict(str(media["astronaut"]))
    onnx_fb = FaceBehavior.load(tmp_path / "m.onnx")
    assert onnx_fb.info.preprocessing == FaceBehavior.load(fer_like_checkpoint).info.preprocessing
    onnx_rows = onnx_fb.predict(str(media["astronaut"]))
    cols = [c for c in torch_rows.columns if c.startswith("expr_") and c != "expr_top"]
    assert np.abs(torch_rows[cols].to_numpy(float) - onnx_rows[cols].to_numpy(float)).max() < 1e-4
