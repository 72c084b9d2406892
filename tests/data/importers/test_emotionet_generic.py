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


def test_emotionet_aus_categories_and_splits(native, tmp_path):
    images = [f"images/{n}.jpg" for n in ("img1", "img2", "img3", "e1", "e2", "e3")]
    report = import_database("emotionet", native("emotionet", images), tmp_path)
    f = by_name(read_manifest(tmp_path / "emotionet.csv", EMOTIONET_TASKS).frame)
    assert (report.rows_read, report.rows_kept) == (7, 4)
    assert report.dropped["no valid label"] == 2  # all 999 / unknown category
    assert report.dropped_where["malformed line: 3 fields, header has 13"][0].endswith("validation.csv:5")
    img1 = f.loc["img1.jpg"]
    assert (img1.au1, img1.au2, img1.au12, img1.au25) == (1, 0, 1, 1) and img1.split == "val"
    assert pd.isna(f.loc["img3.jpg", "au17"]) and f.loc["img3.jpg", "au26"] == 1
    assert any("AU" in n and "43" in n for n in report.notes)
    assert f.loc["e1.jpg", "expr"] == EXPRESSIONS.index("happiness")
    assert EMOTIONET_CATEGORIES[int(f.loc["e2.jpg", "emotionet_category"])] == "sadly_fearful"
    assert pd.isna(f.loc["e2.jpg", "expr"]) and f.loc["e2.jpg", "split"] == "test"
    assert report.issues["unknown category 'bored': null"] == 1


def test_emotionet_file_without_split_in_name(native, tmp_path):
    root = native("emotionet")
    (root / "emotionet_manual_au_validation.csv").rename(root / "annotations.csv")
    with pytest.raises(DataFormatError, match="annotations.csv"):
        import_database("emotionet", root, tmp_path)


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
