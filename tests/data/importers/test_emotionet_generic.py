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


def _generic_root(tmp_path, text: str, encoding: str = "utf-8"):
    root = tmp_path / "db"
    (root / "imgs").mkdir(parents=True)
    for name in "abcdef":
        (root / "imgs" / f"{name}.jpg").write_bytes(b"")
    (root / "labels.csv").write_bytes(text.encode(encoding))
    return root


def test_generic_csv_au_intensity_outside_0_to_max_is_reported_not_thresholded(tmp_path):
    root = _generic_root(tmp_path, "file,AU12,AU4\nimgs/a.jpg,-5,3\nimgs/b.jpg,999,1\nimgs/c.jpg,9,2\n"
                                   "imgs/d.jpg,2,9\n")
    mapping = {"file": "labels.csv", "path": "file", "au": {"columns": {"AU12": 12, "AU4": 4}, "threshold": 2,
                                                           "invalid": [9]}}
    report = import_database("generic_csv", root, tmp_path / "o", map=mapping)
    f = by_name(read_manifest(tmp_path / "o" / "generic_csv.csv", affect_tasks()).frame)
    assert f["au12"].isna().tolist() == [True, True, True, False] and f.loc["d.jpg", "au12"] == 1
    assert f["au4"].tolist()[:3] == [1, 0, 1] and pd.isna(f.loc["d.jpg", "au4"])
    why = "is not an intensity in 0..5 (list it in au.invalid, or set au.max_intensity): null"
    assert report.issues == {f"AU12 value '-5' {why}": 1, f"AU12 value '999' {why}": 1,
                             "AU12 value '9' listed in au.invalid: null": 1, "AU4 value '9' listed in au.invalid: null": 1}
    assert report.issues_where[f"AU12 value '-5' {why}"] == [f"{root / 'labels.csv'}:2"]
    mapping["au"]["max_intensity"] = 1000  # a wider scale, said explicitly
    report = import_database("generic_csv", root, tmp_path / "o2", map=mapping)
    assert f"AU12 value '999' {why.replace('0..5', '0..1000')}" not in report.issues and len(report.issues) == 3


def test_generic_csv_every_label_set_to_null_is_in_the_report(tmp_path):
    root = _generic_root(tmp_path, "file,emo,v,a\nimgs/a.jpg,happy,high,-5\nimgs/b.jpg,contempt,0.5,0.1\n"
                                   "imgs/c.jpg,bored,0.2,0.2\n")
    mapping = {"file": "labels.csv", "path": "file", "expr": {"column": "emo", "values": {"happy": "happiness",
                                                                                         "contempt": None}},
               "valence": {"column": "v"}, "arousal": {"column": "a", "invalid": [-5]}}
    report = import_database("generic_csv", root, tmp_path / "o", map=mapping)
    assert report.issues == {"valence value 'high' is not a number: null": 1,
                             "arousal value '-5' listed in arousal.invalid: null": 1,
                             "expression value 'contempt' mapped to null (expr.values)": 1,
                             "expression value 'bored' not mapped: null": 1}
    assert report.rows_kept == 3


def test_generic_csv_repeated_rows_are_kept_once_and_conflicting_ones_not_at_all(tmp_path):
    root = _generic_root(tmp_path, "file,emo\nimgs/a.jpg,happiness\nimgs/b.jpg,anger\nimgs/a.jpg,happiness\n"
                                   "imgs/b.jpg,fear\nimgs/c.jpg,fear\n")
    report = import_database("generic_csv", root, tmp_path / "o", map={"file": "labels.csv", "path": "file",
                                                                        "expr": "emo"})
    f = by_name(read_manifest(tmp_path / "o" / "generic_csv.csv", affect_tasks()).frame)
    assert sorted(f.index) == ["a.jpg", "c.jpg"] and (report.rows_read, report.rows_kept) == (5, 2)
    assert report.dropped == {"duplicate row: the same fields as an earlier line": 1,
                              "image listed more than once with different labels or splits: none of its rows kept": 2}
    assert report.dropped_where["duplicate row: the same fields as an earlier line"] == [
        f"{root / 'labels.csv'}:4 (= line 2)"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "utf-16-le"])
def test_generic_csv_reads_utf16_and_bom_files_and_says_so(tmp_path, encoding):
    root = _generic_root(tmp_path, "file,emo\nimgs/a.jpg,happiness\nimgs/b.jpg,anger\n", encoding)
    report = import_database("generic_csv", root, tmp_path / "o", map={"file": "labels.csv", "path": "file",
                                                                        "expr": "emo"})
    assert report.rows_kept == 2
    assert any("read as utf-16" in n for n in report.notes) == encoding.startswith("utf-16")


def test_generic_csv_latin1_needs_its_encoding_named(tmp_path, capsys):
    root = _generic_root(tmp_path, "file,emo\nimgs/a.jpg,happiness\nimgs/b.jpg,col\xe8re\n", "latin-1")
    mapping = {"file": "labels.csv", "path": "file", "expr": {"column": "emo", "values": {"colère": "anger",
                                                                                         "happiness": "happiness"}}}
    with pytest.raises(DataFormatError, match=r"labels.csv: is not utf-8 text at line 3 \(byte 0xe8\)"):
        import_database("generic_csv", root, tmp_path / "o", map=mapping)
    report = import_database("generic_csv", root, tmp_path / "o", map={**mapping, "encoding": "latin-1"})
    assert report.rows_kept == 2 and not report.issues
    assert main(["data", "import", "generic_csv", "--root", str(root), "--out", str(tmp_path / "x"),
                 "--map", "file=labels.csv", "--map", "path=file"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_generic_csv_mapping_file_and_keys_are_checked(tmp_path, capsys):
    root = _generic_root(tmp_path, "file,emo\nimgs/a.jpg,happiness\n")
    assert main(["data", "import", "generic_csv", "--root", str(root), "--out", str(tmp_path / "o"),
                 "--mapping", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml does not exist" in capsys.readouterr().err
    (tmp_path / "list.yaml").write_text("- file\n- path\n")
    with pytest.raises(ConfigError, match="expected key: value entries"):
        import_database("generic_csv", root, tmp_path / "o", mapping=tmp_path / "list.yaml")
    base = {"file": "labels.csv", "path": "file"}
    for extra, match in [({"au": {"colums": ["AU12"]}}, r"au: unknown key\(s\) \['colums'\]"),
                         ({"au": {"columns": ["smile"]}}, r"AU\(s\) \['SMILE'\] are not among"),
                         ({"au": {"columns": ["AU12"], "threshold": "two"}}, "au.threshold: 'two'"),
                         ({"au": {"columns": ["AU12"], "invalid": ["x"]}}, "au.invalid"),
                         ({"valence": {"column": "v", "scale": 0}}, "valence.scale"),
                         ({"expr": ["emo"]}, "mapping expr: expected a column name")]:
        with pytest.raises(ConfigError, match=match):
            import_database("generic_csv", root, tmp_path / "o", map={**base, **extra})
