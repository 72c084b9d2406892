import numpy as np
import pandas as pd
import pytest

from facebehavior.data.importers import import_database
from facebehavior.data.manifest import read_manifest
from facebehavior.errors import DataFormatError
from facebehavior.labels import EXPRESSIONS, affect_tasks

VIDEOS = {"vidA": 7, "vidB": 3, "10-60-1280x720_left": 2, "10-60-1280x720_right": 2, "vidC": 1}
IMAGES = [f"cropped_aligned/{v}/{k:05d}.jpg" for v, n in VIDEOS.items() for k in range(1, n + 1)
          if (v, k) != ("vidA", 6)]


def run(native, tmp_path, **options):
    root = native("affwild2", IMAGES)
    report = import_database("affwild2", root, tmp_path / "out", **options)
    frame = read_manifest(tmp_path / "out" / "affwild2.csv", affect_tasks()).frame
    return root, report, frame.set_index(["video", "frame"])


def test_frames_merge_all_tasks(native, tmp_path):
    _, report, f = run(native, tmp_path)
    assert (report.rows_read, report.rows_kept) == (15, 14)
    assert report.dropped == {"image file missing": 1}
    first = f.loc[("vidA", 1)]
    assert first.expr == EXPRESSIONS.index("neutral") and first.valence == pytest.approx(0.1)
    assert (first.au1, first.au2, first.au12, first.au25) == (1, 0, 1, 1)
    assert f.loc[("vidA", 2)].expr == EXPRESSIONS.index("happiness")
    assert f.loc[("vidA", 5)].expr == EXPRESSIONS.index("surprise")
    assert f.loc[("vidA", 1)].path.endswith("cropped_aligned/vidA/00001.jpg")
    assert "au5" not in f  # Aff-Wild2 does not annotate AU5: the column stays absent (unlabelled)


def test_invalid_codes_become_null_and_are_reported(native, tmp_path):
    _, report, f = run(native, tmp_path)
    assert np.isnan(f.loc[("vidA", 3)].valence) and pd.isna(f.loc[("vidA", 3)].expr)  # VA -5, EXPR Other
    assert pd.isna(f.loc[("vidA", 4)].expr) and np.isnan(f.loc[("vidA", 4)].valence)  # EXPR -1, bad VA line
    assert pd.isna(f.loc[("vidA", 2)].au1)  # AU -1
    assert pd.isna(f.loc[("vidA", 7)].au4)  # AU line with a 2
    assert report.issues["malformed VA line: label ignored"] == 1
    assert report.issues_where["malformed VA line: label ignored"][0].endswith("Train_Set/vidA.txt:5")
    assert report.issues["malformed EXPR line: label ignored"] == 1
    assert report.issues["EXPR 7 (Other): no canonical expression, expr null"] == 1
    assert report.issues["VA -5 (not annotated): label null"] == 1
    assert report.issues["EXPR -1 (not annotated): label null"] == 1
    assert report.issues["AU -1 (not annotated): label null"] == 1


def test_split_by_video_with_validation_as_test(native, tmp_path):
    _, _, f = run(native, tmp_path, val_fraction=0.3)
    split = f.groupby(level="video")["split"].agg(set)
    assert split["vidB"] == {"test"}
    assert split["10-60-1280x720_left"] == split["10-60-1280x720_right"]
    assert {s for v in ("vidA", "vidC", "10-60-1280x720_left") for s in split[v]} == {"train", "val"}


def test_subsample_keeps_one_frame_in_five(native, tmp_path):
    _, report, f = run(native, tmp_path, subsample=5)
    assert sorted(f.loc["vidA"].index) == [1]  # frame 6 is kept by subsampling but has no image
    assert report.dropped == {"skipped by subsample 5": 9, "image file missing": 1}
    assert report.rows_kept == 5


def test_video_in_train_and_validation_goes_to_test(native, tmp_path):
    root = native("affwild2", IMAGES)
    extra = root / "annotations" / "EXPR_Classification_Challenge" / "Validation_Set"
    extra.mkdir()
    (extra / "vidC.txt").write_text("Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other\n3\n")
    report = import_database("affwild2", root, tmp_path / "out")
    f = read_manifest(tmp_path / "out" / "affwild2.csv", affect_tasks()).frame
    assert set(f.loc[f.video == "vidC", "split"]) == {"test"}
    assert any("went to test" in n for n in report.notes)


def test_unknown_header_fails_with_file_and_line(native, tmp_path):
    root = native("affwild2", IMAGES)
    (root / "annotations" / "VA_Estimation_Challenge" / "Train_Set" / "bad.txt").write_text("happy,sad\n1,0\n")
    with pytest.raises(DataFormatError, match=r"bad.txt:1"):
        import_database("affwild2", root, tmp_path / "out")


def test_nested_cropped_aligned_folder_is_accepted(native, tmp_path):
    root = native("affwild2", [f"cropped_aligned/cropped_aligned/{rel.split('/', 1)[1]}" for rel in IMAGES])
    report = import_database("affwild2", root, tmp_path / "out")
    assert report.rows_kept == 14 and any("nested" in n for n in report.notes)


def test_frames_numbered_from_zero_stop_the_import(native, tmp_path):
    root = native("affwild2", IMAGES + ["cropped_aligned/vidA/00000.jpg"])
    with pytest.raises(DataFormatError, match=r"vidA/00000\.jpg: exists"):
        import_database("affwild2", root, tmp_path / "out")
