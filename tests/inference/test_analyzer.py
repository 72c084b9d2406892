"""The Python API on real faces: skimage's astronaut, FER+ crops, and a generated video."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from facebehavior.errors import FaceBehaviorError
from facebehavior.labels import AU_NAMES, EXPRESSIONS
from tests.training.conftest import AU_SUBSET


def test_astronaut_gives_one_face_with_all_outputs(analyzer):
    from skimage import data

    rows = analyzer.predict(data.astronaut())
    assert len(rows) == 1
    row = rows.iloc[0]
    assert row["status"] == "ok" and row["face_index"] == 0 and row["face_from"] == "detector"
    # The eyes of the astronaut are near (204, 101) and (246, 103) (docs/faces.md).
    assert abs(row["left_eye_x"] - 204) < 6 and abs(row["right_eye_x"] - 246) < 6
    assert row["box_x"] < 204 < row["box_x"] + row["box_w"]
    probs = row[[f"expr_{e}" for e in EXPRESSIONS]].to_numpy(float)
    assert probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert row["expr_top"] == EXPRESSIONS[int(probs.argmax())]
    # The fixture's training data annotates only AU_SUBSET: the other AUs are left empty.
    assert all(0 <= row[a] <= 1 and isinstance(row[f"{a}_on"], (bool, np.bool_)) for a in AU_SUBSET)
    untrained = [a for a in AU_NAMES if a not in AU_SUBSET]
    assert all(pd.isna(row[a]) and pd.isna(row[f"{a}_on"]) for a in untrained)
    assert -1 <= row["valence"] <= 1 and -1 <= row["arousal"] <= 1
    assert row["untrained_heads"] == "" and row["untrained_labels"] == ",".join(untrained)


def test_paths_arrays_and_pil_images_agree(analyzer, media):
    image = np.asarray(Image.open(media["astronaut"]).convert("RGB"))
    rows = analyzer.predict([str(media["astronaut"]), image, Image.fromarray(image)])
    assert rows["source"].tolist() == [str(media["astronaut"]), "<image 1>", "<image 2>"]
    values = rows[["expr_happiness", "au12", "valence"]].to_numpy(float)
    assert np.allclose(values, values[0], atol=1e-6)


def test_image_without_a_face_is_a_row_saying_so(analyzer, media):
    rows = analyzer.predict(media["blank"])
    assert len(rows) == 1
    assert rows["status"].iloc[0] == "no_face" and pd.isna(rows["face_index"].iloc[0])
    assert rows[["expr_happiness", "au12", "valence"]].isna().all(axis=None)


def test_aligned_crop_skips_detection(analyzer):
    crop = np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)  # no face a detector would find
    rows = analyzer.predict(crop, aligned=True)
    assert len(rows) == 1 and rows["face_from"].iloc[0] == "aligned_input"
    assert rows["box_w"].iloc[0] == 40 and pd.isna(rows["left_eye_x"].iloc[0])
    assert rows["expr_top"].notna().all()


def test_ferplus_crops_aligned_and_detected(analyzer, ferplus_images):
    aligned = analyzer.predict([str(p) for p in ferplus_images], aligned=True)
    assert len(aligned) == len(ferplus_images) and (aligned["status"] == "ok").all()
    detected = analyzer.predict([str(p) for p in ferplus_images])
    per_image = detected.groupby("source")["status"].first()
    assert len(per_image) == len(ferplus_images)
    assert (per_image == "ok").sum() >= len(ferplus_images) * 0.6  # MTCNN finds most 48×48 FER faces
    faces = detected[detected["status"] == "ok"]
    assert (faces["box_w"] > 10).all() and (faces["box_w"] < 60).all()


def test_bad_array_and_missing_path_are_clear_errors(analyzer, tmp_path):
    with pytest.raises(FaceBehaviorError, match="uint8"):
        analyzer.predict(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(FaceBehaviorError, match="not found"):
        analyzer.predict(tmp_path / "missing.jpg")


@pytest.fixture(scope="module")
def video_rows(analyzer, media):
    return analyzer.predict_video(media["video"], detect_every=1)  # the exact path: detector on every frame


def test_video_defaults_detect_every_fifth_frame(analyzer, media, video_rows):
    rows = analyzer.predict_video(media["video"])
    assert rows["face_from"].tolist()[:6] == ["detector"] + ["tracked"] * 4 + ["detector"]
    assert (rows["track_id"] == 0).all() and len(rows) == len(video_rows)


def test_trainer_records_the_labels_its_data_annotates(checkpoint):
    from facebehavior.models.checkpoint import read_meta

    seen = read_meta(checkpoint).trained_labels
    assert seen["au"] == [a for a in AU_NAMES if a in AU_SUBSET]
    assert seen["va"] == ["valence", "arousal"] and len(seen["expr"]) >= 5  # 40 random classes of 7


def test_checkpoint_without_label_records_keeps_every_au(checkpoint, tmp_path):
    from skimage import data

    from facebehavior.inference import FaceBehavior
    from facebehavior.models.checkpoint import load_model, read_meta, save_checkpoint

    meta = read_meta(checkpoint)
    meta.trained_labels = None  # as in checkpoints saved before per-label records
    old = save_checkpoint(tmp_path / "old", load_model(checkpoint)[0], meta)
    fb = FaceBehavior.load(old)
    row = fb.predict(data.astronaut()).iloc[0]
    assert all(0 <= row[a] <= 1 for a in AU_NAMES) and pd.isna(row["untrained_labels"])
    from facebehavior.inference.run import untrained_warnings

    assert "predates per-label training records" in untrained_warnings(fb, str(old))[0]


def test_video_rows_follow_one_face(video_rows):
    assert video_rows["frame"].tolist() == list(range(20))
    assert np.allclose(video_rows["timestamp"], np.arange(20) / 10)
    assert (video_rows["status"] == "ok").all() and (video_rows["track_id"] == 0).all()
    assert (video_rows["media"] == "video").all()
    # The face moves along a smooth path: consecutive boxes overlap.
    centres = video_rows["box_x"] + video_rows["box_w"] / 2
    assert centres.diff().abs().max() < 15


def test_stride_and_median_filter(analyzer, media, video_rows):
    strided = analyzer.predict_video(media["video"], stride=4)
    assert strided["frame"].tolist() == [0, 4, 8, 12, 16]
    smooth = analyzer.predict_video(media["video"], median=5, detect_every=1)
    assert np.allclose(smooth[["box_x", "box_y"]], video_rows[["box_x", "box_y"]])  # boxes are not filtered
    expected = video_rows["valence"].rolling(5, center=True, min_periods=1).median()
    assert np.allclose(smooth["valence"], expected, atol=1e-6)
    au = video_rows["au12"].rolling(5, center=True, min_periods=1).median()
    assert np.allclose(smooth["au12"], au, atol=1e-6)
    probs = smooth[[f"expr_{e}" for e in EXPRESSIONS]].sum(axis=1)
    assert np.allclose(probs, 1.0)


def test_detect_every_tracks_landmarks_in_between(analyzer, media, video_rows):
    tracked = analyzer.predict_video(media["video"], detect_every=4)
    assert tracked["face_from"].tolist()[:5] == ["detector", "tracked", "tracked", "tracked", "detector"]
    assert (tracked["track_id"] == 0).all()
    assert tracked.loc[tracked["face_from"] == "tracked", "det_score"].isna().all()
    # Optical flow keeps the landmarks within a few pixels of a fresh detection on every frame.
    error = (tracked[["left_eye_x", "left_eye_y", "nose_x", "nose_y"]]
             - video_rows[["left_eye_x", "left_eye_y", "nose_x", "nose_y"]]).abs()
    assert error.to_numpy().max() < 4.0


def test_untrained_head_is_marked_not_printed(checkpoint_no_va):
    from skimage import data

    from facebehavior.inference import FaceBehavior

    with pytest.warns(UserWarning, match="never trained"):
        fb = FaceBehavior.load(checkpoint_no_va)
    rows = fb.predict(data.astronaut())
    assert rows["untrained_heads"].iloc[0] == "va"
    assert rows[["valence", "arousal"]].isna().all(axis=None)
    assert rows[["expr_happiness", "au12"]].notna().all(axis=None)


def test_compound_scores_for_faces_only(checkpoint, checkpoint_no_va, media):
    pytest.importorskip("facebehavior.compound")
    from facebehavior.inference import FaceBehavior

    fb = FaceBehavior.load(checkpoint)
    fb.enable_compound("rafdb")
    rows = fb.predict([media["astronaut"], media["blank"]])
    assert rows["compound"].iloc[0] and rows["compound_score"].iloc[0] > 0
    assert pd.isna(rows["compound"].iloc[1]) and pd.isna(rows["compound_score"].iloc[1])
    with pytest.warns(UserWarning):
        no_va = FaceBehavior.load(checkpoint_no_va)
    no_va.enable_compound("rafdb")  # eq. 8 needs valence: without a trained VA head there is no score
    assert no_va.predict(media["astronaut"])["compound"].isna().all()


def test_detect_size_maps_landmarks_back_to_full_resolution(analyzer):
    from skimage import data

    from facebehavior.inference.locate import FaceFinder

    image = data.astronaut()
    full = analyzer.finder.detect(image)
    small = FaceFinder(32, detect_size=200).detect(image)  # detected on a 200×200 copy
    assert len(full) == len(small) == 1
    assert np.abs(full[0].landmarks - small[0].landmarks).max() < 5
    assert np.abs(full[0].box - small[0].box).max() < 10


def test_a_synthetic_only_checkpoint_warns_that_real_photos_are_out_of_its_domain(checkpoint, tmp_path):
    import warnings

    from facebehavior.inference import FaceBehavior
    from facebehavior.inference.run import untrained_warnings
    from facebehavior.models.checkpoint import load_model, read_meta, save_checkpoint

    model, _, _ = load_model(checkpoint)
    meta = read_meta(checkpoint)
    meta.training_databases = ["synth_rafdb", "synth_disfa"]
    synthetic = save_checkpoint(tmp_path / "synthetic", model, meta)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fb = FaceBehavior.load(synthetic)
    assert fb.info.domain == "synthetic"
    assert any("synthetic faces only" in str(w.message) for w in caught)
    assert any("synthetic faces only" in line for line in untrained_warnings(fb, str(synthetic)))
