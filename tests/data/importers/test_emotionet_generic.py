"""EmotioNet and the generic CSV importer."""

import pandas as pd
import pytest

from facebehavior.cli.main import main
from facebehavior.data.importers import EMOTIONET_CATEGORIES, import_database
from facebehavior.data.manifest import read_manifest
from facebehavior.errors import ConfigError, DataFormatError
from facebehavior.labels import EXPRESSIONS, TaskSpec, affect_tasks

EMOTIONET_TASKS = affect_tasks() + [TaskSpec("emotionet_category", "multiclass", EMOTIONET_CATEGORIES)]


def by_name(frame):
    frame.index = frame["path"].str.rsplit("/", n=1).str[-1]
    return frame


EMOTIONET_IMAGES = [f"images/{n}.jpg" for n in ("img1", "img2", "img3", "e1", "e2", "e3", "t1", "t2", "t3", "t4")]
TXT_TRAIN = {"dataFile_*.txt": "train"}


def test_emotionet_aus_categories_and_splits(native, tmp_path):
    report = import_database("emotionet", native("emotionet", EMOTIONET_IMAGES), tmp_path, map=TXT_TRAIN)
    f = by_name(read_manifest(tmp_path / "emotionet.csv", EMOTIONET_TASKS).frame)
    assert (report.rows_read, report.rows_kept) == (11, 6)
    assert report.dropped["no valid label"] == 3  # all 999 (CSV and challenge file) / unknown category
    assert report.dropped_where["malformed line: 3 fields, header has 13"][0].endswith("validation.csv:5")
    img1 = f.loc["img1.jpg"]
    assert (img1.au1, img1.au2, img1.au12, img1.au25) == (1, 0, 1, 1) and img1.split == "val"
    assert pd.isna(f.loc["img3.jpg", "au17"]) and f.loc["img3.jpg", "au26"] == 1
    assert any("AU" in n and "43" in n for n in report.notes)
    assert f.loc["e1.jpg", "expr"] == EXPRESSIONS.index("happiness")
    assert EMOTIONET_CATEGORIES[int(f.loc["e2.jpg", "emotionet_category"])] == "sadly_fearful"
    assert pd.isna(f.loc["e2.jpg", "expr"]) and f.loc["e2.jpg", "split"] == "test"
    assert report.issues["unknown category 'bored': null"] == 1


def test_emotionet_challenge_text_files_by_position(native, tmp_path):
    report = import_database("emotionet", native("emotionet", EMOTIONET_IMAGES), tmp_path, map=TXT_TRAIN)
    f = by_name(read_manifest(tmp_path / "emotionet.csv", EMOTIONET_TASKS).frame)
    t1, t4 = f.loc["t1.jpg"], f.loc["t4.jpg"]
    assert (t1.au1, t1.au2, t1.au4, t1.au12, t1.au25, t1.au26) == (1, 0, 1, 1, 1, 0)  # AU k = field k+1
    assert t1.split in ("train", "val") and "t2.jpg" not in f.index
    assert pd.isna(t4.au6) and t4.au9 == 1 and report.issues["AU6 value '2' is not 0, 1 or 999: null"] == 1
    where = report.dropped_where["malformed line: 4 tab-separated fields, the file's first line has 62"]
    assert where[0].endswith("dataFile_1001.txt:3")
    assert any(n.startswith("assumes: challenge .txt files") for n in report.notes)


def test_emotionet_challenge_file_with_a_numeric_second_field_fails(native, tmp_path):
    root = native("emotionet", EMOTIONET_IMAGES)
    (root / "dataFile_1002.txt").write_text("http://x/a.jpg\t1\t0\t1\n")
    with pytest.raises(DataFormatError, match=r"dataFile_1002.txt:1: the second field '1' is a number"):
        import_database("emotionet", root, tmp_path, map=TXT_TRAIN)


def test_emotionet_file_without_split_in_name(native, tmp_path):
    root = native("emotionet")
    with pytest.raises(DataFormatError, match=r"dataFile_1001.txt: cannot tell its split.*--map"):
        import_database("emotionet", root, tmp_path)
    (root / "emotionet_manual_au_validation.csv").rename(root / "annotations.csv")
    with pytest.raises(DataFormatError, match="annotations.csv"):
        import_database("emotionet", root, tmp_path, map=TXT_TRAIN)
    with pytest.raises(ConfigError, match="one of"):
        import_database("emotionet", root, tmp_path, map={"*": "training"})


def test_emotionet_csv_without_label_columns_fails(native, tmp_path):
    root = native("emotionet")
    (root / "notes_train.csv").write_text("file,comment\na.jpg,blurry\n")
    with pytest.raises(DataFormatError, match=r"notes_train.csv:1: header .* no AU<k> column"):
        import_database("emotionet", root, tmp_path, map=TXT_TRAIN)


def test_generic_csv_with_yaml_mapping(native, tmp_path):
    root = native("generic", [f"imgs/{n}.jpg" for n in "abcdef"])
    report = import_database("generic_csv", root, tmp_path, mapping=root / "mapping.yaml")
    f = by_name(read_manifest(tmp_path / "generic_csv.csv", affect_tasks()).frame)
    assert (report.rows_read, report.rows_kept) == (6, 3)
    a, b, c = f.loc["a.jpg"], f.loc["b.jpg"], f.loc["c.jpg"]
    assert a.expr == EXPRESSIONS.index("happiness") and a.valence == pytest.approx(0.5) and a.au12 == 1
    assert b.expr == EXPRESSIONS.index("anger") and b.valence == pytest.approx(-0.5) and b.split == "test"
    assert pd.isna(c.expr) and pd.isna(c.au12) and str(c.subject) == "p1"  # contempt → null, AU 9 invalid
    assert "d.jpg" not in f.index  # 'bored' unmapped, valence 20 × 0.1 outside [-1, 1], AU empty
    assert report.issues["expression value 'bored' not mapped: null"] == 1
    assert report.dropped["split value 'weird' not mapped to train/val/test"] == 1
    assert report.dropped["malformed line: wrong number of fields"] == 1
    assert report.dropped["no valid label"] == 1


def test_generic_csv_mapping_errors(native, tmp_path):
    root = native("generic")
    with pytest.raises(ConfigError, match="needs 'file'"):
        import_database("generic_csv", root, tmp_path, map={"path": "file"})
    with pytest.raises(DataFormatError, match="not in the header"):
        import_database("generic_csv", root, tmp_path, mapping=root / "mapping.yaml", map={"subject": "nobody"})
    with pytest.raises(ConfigError, match="unknown"):
        import_database("generic_csv", root, tmp_path, map={"file": "labels.csv", "path": "file", "colour": "x"})


def test_cli_import_prints_report_and_writes_json(native, tmp_path, capsys):
    root = native("generic", [f"imgs/{n}.jpg" for n in "abcdef"])
    code = main(["data", "import", "generic_csv", "--root", str(root), "--out", str(tmp_path / "o"),
                 "--mapping", str(root / "mapping.yaml"), "--format", "parquet", "--map", "subject=person"])
    out = capsys.readouterr().out
    assert code == 0 and "read 6 rows" in out and "kept 3" in out and "no valid label" in out
    assert (tmp_path / "o" / "import_report.json").is_file() and (tmp_path / "o" / "generic_csv.parquet").is_file()
    assert main(["data", "import", "generic_csv", "--root", str(root), "--out", str(tmp_path / "x"),
                 "--clean"]) == 2
    assert "do not apply" in capsys.readouterr().err
    assert main(["data", "import", "rafdb", "--describe"]) == 0
    assert "per-image hash" in capsys.readouterr().out
