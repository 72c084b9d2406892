"""DISFA, BP4D, BP4D+ and GFT: AU occurrence coded per video frame."""

import pandas as pd
import pytest

from facebehavior.data.importers import import_database
from facebehavior.data.importers.au_video import FERA2015_DEVEL, FERA2015_TRAIN
from facebehavior.data.manifest import read_manifest
from facebehavior.errors import ConfigError, DataFormatError
from facebehavior.labels import affect_tasks


def manifest(path):
    frame = read_manifest(path, affect_tasks()).frame
    return frame.assign(video=frame["video"].astype(str)).set_index(["video", "frame"])


def test_disfa_intensity_threshold_and_missing_files(native, tmp_path):
    images = [f"frames/SN001/{k:05d}.jpg" for k in (1, 2, 3)] + [f"frames/SN002/{k:05d}.jpg" for k in (1, 2)]
    root = native("disfa", images)
    report = import_database("disfa", root, tmp_path)
    f = manifest(tmp_path / "disfa.csv")
    assert (report.rows_read, report.rows_kept) == (5, 5)
    assert (f.loc[("SN001", 2)].au1, f.loc[("SN001", 1)].au12, f.loc[("SN001", 3)].au12) == (1, 1, 1)
    assert f.loc[("SN001", 1)].au1 == 0 and f.loc[("SN001", 2)].au12 == 0  # intensities 0 / 1 < 2
    assert pd.isna(f.loc[("SN001", 2)].au4)
    assert report.issues_where["malformed line 'frame,intensity' (0-5): AU null for that frame"][0] \
        .endswith("SN001_au4.txt:2")
    assert pd.isna(f.loc[("SN002", 1)].au2) and f.loc[("SN002", 1)].au1 == 1
    assert report.issues["AU label file missing: AU null for the subject"] == 10
    assert f.groupby("subject")["split"].nunique().eq(1).all()
    import_database("disfa", root, tmp_path / "t4", threshold=4)
    assert manifest(tmp_path / "t4" / "disfa.csv").loc[("SN001", 2)].au1 == 0


BP4D_IMAGES = [f"F001/T1/{k}.jpg" for k in (2440, 2441, 2442, 2444)] + ["F002/T1/0010.jpg", "F002/T1/0011.jpg",
                                                                         "F003/T8/0001.jpg"]


def test_bp4d_codes_partition_and_malformed_lines(native, tmp_path):
    report = import_database("bp4d", native("bp4d", BP4D_IMAGES), tmp_path)
    f = manifest(tmp_path / "bp4d.csv")
    assert (report.rows_read, report.rows_kept) == (10, 7)
    assert report.dropped["subject not in the FERA 2015 partition"] == 2
    assert report.dropped_where["malformed line: 3 fields, header has 28"][0].endswith("F001_T1.csv:5")
    row = f.loc[("F001_T1", 2440)]
    assert (row.au1, row.au2, row.au12, row.au23) == (1, 0, 1, 0)
    assert pd.isna(f.loc[("F001_T1", 2441)].au4) and report.issues["AU code 9 (unknown): null"] == 1
    assert pd.isna(f.loc[("F001_T1", 2442)].au6)
    assert "au5" not in f and "au25" not in f  # not FERA 2015 AUs
    assert set(f.loc["F002_T1", "split"]) == {"test"}
    assert set(f.loc["F003_T8", "split"]) <= {"train", "val"}
    assert len(FERA2015_TRAIN) == 21 and len(FERA2015_DEVEL) == 20


def test_bp4d_missing_frames_fail_with_the_path_tried(native, tmp_path):
    with pytest.raises(DataFormatError, match=r"F001/T1/2440\.jpg"):
        import_database("bp4d", native("bp4d"), tmp_path)


BP4D_PLUS_IMAGES = ["train/frames/FERA17_TR_F001_T1_6/00001.jpg", "train/frames/FERA17_TR_F001_T1_6/00002.jpg",
                    "train/frames/FERA17_TR_M005_T2_6/00007.jpg", "validation/frames/FERA17_VA_F007_T1_6/00003.jpg",
                    "validation/frames/FERA17_VA_rM001_T8_6/00001.jpg"]


def test_bp4d_plus_fera2017_partitions_from_file_names(native, tmp_path):
    root = native("bp4d_plus", BP4D_PLUS_IMAGES)
    report = import_database("bp4d_plus", root, tmp_path, views="6")
    f = manifest(tmp_path / "bp4d_plus.csv")
    assert (report.rows_read, report.rows_kept) == (7, 5)
    assert report.dropped == {"no valid label": 1, "malformed line: 3 fields, header has 11": 1}
    assert report.dropped_where["malformed line: 3 fields, header has 11"][0].endswith("FERA17_TR_F001_T1.csv:4")
    assert set(f.loc["FERA17_VA_F007_T1_6", "split"]) == {"test"} and f.loc[("FERA17_VA_F007_T1_6", 3)].au17 == 1
    assert set(f.loc["FERA17_TR_F001_T1_6", "split"]) <= {"train", "val"}
    # VA reuses TR subject codes for other people: kept apart so train/test stay subject-independent.
    assert set(f["subject"].astype(str)) == {"F001", "M005", "VA_F007", "VA_rM001"}
    assert f.loc[("FERA17_TR_F001_T1_6", 2)].au4 == 1 and "au2" not in f
    assert any(n.startswith("assumes: the frame number") for n in report.notes)


def test_bp4d_plus_views_multiply_rows_and_need_a_view_field(native, tmp_path):
    root = native("bp4d_plus", BP4D_PLUS_IMAGES + ["train/frames/FERA17_TR_M005_T2_1/00007.jpg"])
    report = import_database("bp4d_plus", root, tmp_path, views="1,6")
    assert report.rows_read == 14 and report.dropped["image file missing"] == 4
    with pytest.raises(ConfigError, match="view"):
        import_database("bp4d_plus", root, tmp_path / "v", views="1,2", image_pattern="{part}/{frame:05d}.jpg")


def test_bp4d_plus_old_partition_folders_are_not_a_release_layout(native, tmp_path):
    root = tmp_path / "old"
    (root / "Train" / "AU_OCC").mkdir(parents=True)
    (root / "Train" / "AU_OCC" / "F001_T1.csv").write_text("0,1,4\n1,1,0\n")
    with pytest.raises(DataFormatError, match="FERA17_TR_F001_T1.csv"):
        import_database("bp4d_plus", root, tmp_path / "o")


def test_frames_numbered_from_zero_fail_instead_of_shifting_labels(native, tmp_path):
    root = native("disfa", [f"frames/SN001/{k:05d}.jpg" for k in (0, 1, 2, 3)])
    with pytest.raises(DataFormatError, match=r"SN001/00000\.jpg: exists.*one frame off"):
        import_database("disfa", root, tmp_path)


def test_frames_named_otherwise_fail_naming_the_folder(native, tmp_path):
    root = native("gft", ["frames/001A/frame_1.png", "frames/002B/00001.jpg"])
    with pytest.raises(DataFormatError, match=r"frames/001A: holds 1 file\(s\), e.g. frame_1.png.*--image-pattern"):
        import_database("gft", root, tmp_path)


GFT_IMAGES = ["frames/001A/00001.jpg", "frames/001A/00003.jpg", "frames/002B/00001.jpg"]


def test_gft_is_test_only_unless_split_file(native, tmp_path):
    root = native("gft", GFT_IMAGES)
    report = import_database("gft", root, tmp_path)
    f = manifest(tmp_path / "gft.csv")
    assert (report.rows_read, report.rows_kept) == (6, 3) and set(f["split"]) == {"test"}
    assert f.loc[("001A", 1)].au12 == 1 and f.loc[("001A", 3)].au24 == 1
    assert report.dropped_where["malformed line: 3 fields, header has 11"][0].endswith("002B.csv:3")
    assert report.issues_where["AU24 code '7' is not 0, 1 or 9: null"][0].endswith("002B.csv:4")
    split_file = tmp_path / "gft_split.txt"
    split_file.write_text("# official lists\n001A train\n")
    report = import_database("gft", root, tmp_path / "s", split_file=split_file)
    f = manifest(tmp_path / "s" / "gft.csv")
    assert set(f["split"]) == {"train"}
    assert report.dropped["subject not listed in --split-file"] == 1
    split_file.write_text("001A training\n")
    with pytest.raises(DataFormatError, match="gft_split.txt:1"):
        import_database("gft", root, tmp_path / "bad", split_file=split_file)


def test_bad_image_pattern_is_a_config_error(native, tmp_path):
    with pytest.raises(ConfigError, match="image_pattern"):
        import_database("gft", native("gft", GFT_IMAGES), tmp_path, image_pattern="{person}/{frame}.jpg")
