import pytest

from facebehavior.data.importers import RAFDB_COMPOUND, import_database
from facebehavior.data.manifest import read_manifest
from facebehavior.errors import DataFormatError
from facebehavior.labels import EXPRESSIONS, TaskSpec, affect_tasks
from facebehavior.relatedness import load_category_rows

BASIC_IMAGES = [f"Image/aligned/{n}_aligned.jpg" for n in ("train_00001", "train_00002", "test_0001", "train_00004")]


def frame_of(path, tasks):
    frame = read_manifest(path, tasks).frame
    frame.index = frame["path"].str.rsplit("/", n=1).str[-1]
    return frame


def test_basic_codes_map_to_canonical(native, tmp_path):
    root = native("rafdb/basic", BASIC_IMAGES)
    report = import_database("rafdb", root, tmp_path)
    f = frame_of(tmp_path / "rafdb.csv", affect_tasks())
    assert f.loc["train_00001_aligned.jpg", "expr"] == EXPRESSIONS.index("neutral") == 0
    assert f.loc["train_00002_aligned.jpg", "expr"] == EXPRESSIONS.index("surprise")
    assert f.loc["test_0001_aligned.jpg", "expr"] == EXPRESSIONS.index("anger")
    assert f.loc["train_00004_aligned.jpg", "expr"] == EXPRESSIONS.index("sadness")
    assert f["aligned"].all() and f.loc["test_0001_aligned.jpg", "split"] == "test"
    malformed = "malformed line: expected '<train|test>_<n>.jpg <1..7>'"
    assert report.dropped == {malformed: 2, "image file missing": 1}
    assert [w.rsplit(":", 1)[1] for w in report.dropped_where[malformed]] == ["3", "4"]
    assert (report.rows_read, report.rows_kept) == (7, 4)


def test_compound_codes_and_names(native, tmp_path):
    images = [f"Image/aligned/{n}_aligned.jpg" for n in ("train_0001", "train_0002", "test_0001")]
    root = native("rafdb/compound", images)
    report = import_database("rafdb_compound", root, tmp_path)
    f = frame_of(tmp_path / "rafdb_compound.csv", [TaskSpec("compound", "multiclass", RAFDB_COMPOUND)])
    assert f.loc["train_0001_aligned.jpg", "compound"] == 0  # happily surprised
    assert f.loc["train_0002_aligned.jpg", "compound"] == 10  # disgustedly surprised
    assert RAFDB_COMPOUND[int(f.loc["test_0001_aligned.jpg", "compound"])] == "sadly_angry"
    assert "expr" not in f and report.rows_kept == 3
    assert sum(report.dropped.values()) == 1


def test_compound_names_match_du_table():
    du = {row.name for row in load_category_rows()}
    assert set(RAFDB_COMPOUND) <= du and len(RAFDB_COMPOUND) == 11


def test_not_a_label_file(tmp_path):
    (tmp_path / "EmoLabel").mkdir()
    (tmp_path / "EmoLabel" / "list_patition_label.txt").write_text("name,label,extra\n")
    with pytest.raises(DataFormatError, match="list_patition_label.txt:1"):
        import_database("rafdb", tmp_path, tmp_path / "out")
