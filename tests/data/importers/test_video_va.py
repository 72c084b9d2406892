"""Aff-Wild and AFEW-VA: per-frame valence/arousal databases."""

import json

import pytest

from facebehavior.data.importers import import_database
from facebehavior.data.manifest import read_manifest
from facebehavior.errors import DataFormatError
from facebehavior.labels import affect_tasks


def test_affwild_frames_pairs_and_splits(native, tmp_path):
    images = [f"frames/105/{k:05d}.jpg" for k in range(1, 5)] + [f"frames/271/{k:05d}.jpg" for k in (1, 2)]
    report = import_database("affwild", native("affwild", images), tmp_path)
    f = read_manifest(tmp_path / "affwild.csv", affect_tasks()).frame
    f = f.assign(video=f["video"].astype(str)).set_index(["video", "frame"])  # "105" is read back as a number
    assert (report.rows_read, report.rows_kept) == (6, 4)
    assert report.dropped == {"no valid label": 2}  # frame 3: bad valence line, frame 4: no arousal
    assert report.issues_where["malformed valence line: label ignored"][0].endswith("valence/105.txt:3")
    assert report.issues["valence and arousal files differ in length: missing values null"] == 1
    assert f.loc[("105", 2)].arousal == pytest.approx(0.6)
    assert set(f.loc["271", "split"]) == {"test"} and set(f.loc["105", "split"]) <= {"train", "val"}
    assert "au1" not in f and "expr" not in f


def test_affwild_without_annotations_fails(tmp_path):
    with pytest.raises(DataFormatError, match="annotations/train/valence"):
        import_database("affwild", tmp_path, tmp_path / "out")


AFEW_IMAGES = ["001/00000.png", "001/00001.png", "002/00000.png"]


def test_afew_va_scaling_landmarks_and_test_protocol(native, tmp_path):
    report = import_database("afew_va", native("afew_va", AFEW_IMAGES), tmp_path)
    f = read_manifest(tmp_path / "afew_va.csv", affect_tasks()).frame
    f = f.assign(video=f["video"].astype(str).str.zfill(3)).set_index(["video", "frame"])
    assert (report.rows_read, report.rows_kept) == (4, 3)
    assert report.dropped == {"no valid label": 1}  # valence 11 is outside [-10, 10]
    assert (f.loc[("001", 0)].valence, f.loc[("001", 0)].arousal) == pytest.approx((0.3, -0.2))
    assert (f.loc[("001", 1)].valence, f.loc[("002", 0)].valence) == pytest.approx((1.0, -1.0))
    assert f.loc[("001", 0)].landmarks == "38.5 77 44.5 89 30 60 48 96 54 108"
    assert not isinstance(f.loc[("001", 1)].landmarks, str)  # only 10 points in the file
    assert set(f["split"]) == {"test"} and f.loc[("001", 0)].subject == "Actor A"
    assert f.loc[("001", 0)].path.endswith("001/00000.png")


def test_afew_va_split_protocol_is_subject_independent(native, tmp_path):
    import_database("afew_va", native("afew_va", AFEW_IMAGES), tmp_path, protocol="split")
    f = read_manifest(tmp_path / "afew_va.csv", affect_tasks()).frame
    per_subject = f.groupby("subject")["split"].nunique()
    assert (per_subject == 1).all() and set(f["split"]) == {"train", "test"}


def test_afew_va_broken_json_names_the_file(native, tmp_path):
    root = native("afew_va", AFEW_IMAGES)
    (root / "002" / "002.json").write_text('{"frames": ')
    with pytest.raises(DataFormatError, match="002.json"):
        import_database("afew_va", root, tmp_path / "out")
    (root / "002" / "002.json").write_text(json.dumps({"no_frames": 1}))
    with pytest.raises(DataFormatError, match="'frames'"):
        import_database("afew_va", root, tmp_path / "out")
