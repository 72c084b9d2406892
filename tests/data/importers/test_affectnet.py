import shutil

import pandas as pd
import pytest

from facebehavior.data.importers import import_database
from facebehavior.data.importers.affectnet import clean_rule
from facebehavior.data.manifest import read_manifest
from facebehavior.errors import ConfigError, DataFormatError
from facebehavior.labels import EXPRESSIONS, affect_tasks

NAMES = ["neutral", "neutral_far", "happy", "happy_neg", "sad", "surprise", "fear", "disgust", "anger",
         "contempt_va", "contempt_nova", "none", "uncertain", "nonface", "sad_nova", "short", "badva", "badcode",
         "nolm"]
IMAGES = [f"Manually_Annotated_Images/1/{n}.jpg" for n in NAMES] + \
         [f"Manually_Annotated_Images/2/{n}.jpg" for n in ("val_neutral_far", "val_happy")]


def run(native, tmp_path, **options):
    root = native("affectnet", IMAGES)
    report = import_database("affectnet", root, tmp_path / "out", **options)
    frame = read_manifest(tmp_path / "out" / "affectnet.csv", affect_tasks()).frame
    frame.index = frame["path"].str.rsplit("/", n=1).str[-1].str.removesuffix(".jpg")
    return report, frame


def test_expression_codes_map_to_canonical_order(native, tmp_path):
    _, f = run(native, tmp_path)
    expected = {"neutral": "neutral", "happy": "happiness", "sad": "sadness", "surprise": "surprise",
                "fear": "fear", "disgust": "disgust", "anger": "anger"}
    for name, canonical in expected.items():
        assert f.loc[name, "expr"] == EXPRESSIONS.index(canonical), name


def test_invalid_codes_and_va(native, tmp_path):
    report, f = run(native, tmp_path)
    assert pd.isna(f.loc["contempt_va", "expr"]) and f.loc["contempt_va", "valence"] == pytest.approx(-0.3)
    assert pd.isna(f.loc["uncertain", "expr"])
    assert pd.isna(f.loc["sad_nova", "valence"]) and f.loc["sad_nova", "expr"] == EXPRESSIONS.index("sadness")
    for gone in ("contempt_nova", "none", "nonface", "short", "badva", "badcode", "missing_image"):
        assert gone not in f.index
    assert report.dropped["non-face (code 10)"] == 1
    assert report.dropped["contempt (code 7) has no canonical expression and no valid VA"] == 1
    assert report.dropped["malformed line: 4 fields, expected 9"] == 1
    assert report.dropped_where["malformed line: 4 fields, expected 9"][0].endswith("training.csv:17")
    assert report.dropped["malformed line: valence is not in [-1, 1] or -2"] == 1
    assert report.dropped["malformed line: expression code is not an integer in 0..10"] == 1
    assert report.dropped["image file missing"] == 1
    assert (report.rows_read, report.rows_kept) == (22, 15)


def test_box_and_five_landmarks(native, tmp_path):
    report, f = run(native, tmp_path)
    assert f.loc["happy", "box"] == "10 20 100 110"
    # fixture landmark i is (i, 2i): eye centres = mean of 36-41 / 42-47, nose 30, mouth 48 / 54
    assert f.loc["happy", "landmarks"] == "38.5 77 44.5 89 30 60 48 96 54 108"
    assert pd.isna(f.loc["nolm", "landmarks"])
    assert report.issues["facial_landmarks unreadable: landmarks left empty"] == 1


def test_split_protocol_is_deterministic(native, tmp_path):
    _, f = run(native, tmp_path, val_fraction=0.5)
    assert set(f.loc[["val_neutral_far", "val_happy"], "split"]) == {"test"}
    train_side = f.drop(index=["val_neutral_far", "val_happy"])
    assert set(train_side["split"]) == {"train", "val"}
    moved = tmp_path / "elsewhere" / "affectnet"
    shutil.copytree(tmp_path / "affectnet", moved)  # same files in another place: same split
    import_database("affectnet", moved, tmp_path / "again", val_fraction=0.5)
    again = read_manifest(tmp_path / "again" / "affectnet.csv", affect_tasks()).frame
    assert again["split"].tolist() == f["split"].tolist()


def test_clean_rules_remove_rows_per_rule(native, tmp_path):
    report, f = run(native, tmp_path, clean=True)
    assert report.dropped["--clean: neutral needs VA radius < 0.15"] == 1
    assert report.dropped["--clean: happiness needs valence > 0"] == 1
    assert report.dropped["--clean: anger needs valence < 0 and arousal > 0"] == 1
    assert "val_neutral_far" in f.index  # the test split is left as released
    report, f = run(native, tmp_path / "t", clean=True, clean_test=True)
    assert "val_neutral_far" not in f.index and report.dropped["--clean: neutral needs VA radius < 0.15"] == 2


def test_clean_rule_function():
    assert clean_rule("neutral", 0.1, 0.1) is None
    assert clean_rule("fear", 0.0, 0.5) == "--clean: fear needs valence < 0"
    assert clean_rule("surprise", 0.9, -0.9) is None


def test_wrong_files_fail_loudly(tmp_path):
    (tmp_path / "training.csv").write_text("path,label\nx.jpg,1\n")
    with pytest.raises(DataFormatError, match="training.csv:1"):
        import_database("affectnet", tmp_path, tmp_path / "out")
    with pytest.raises(ConfigError, match="clean_test"):
        import_database("affectnet", tmp_path, tmp_path / "out", clean_test=True)
    with pytest.raises(ConfigError, match="do not apply"):
        import_database("affectnet", tmp_path, tmp_path / "out", subsample=5)
