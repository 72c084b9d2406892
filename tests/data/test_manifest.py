"""Manifest validation (every bad row, with file, line and column), CSV/Parquet, label encoding."""

import numpy as np
import pandas as pd
import pytest

from facebehavior.data.manifest import (
    concat_manifests,
    encode_labels,
    read_manifest,
    task_presence,
    validate_frame,
    write_manifest,
)
from facebehavior.errors import ManifestError
from facebehavior.labels import AU_NAMES, EXPRESSIONS, affect_tasks

TASKS = affect_tasks()
SOFT = [f"expr_soft_{e}" for e in EXPRESSIONS]


def _frame() -> pd.DataFrame:
    rows = [
        {"path": "a.png", "database": "affectnet", "split": "train", "expr": 4, "valence": 0.5, "arousal": -0.2},
        {"path": "b.png", "database": "bp4d", "split": "val", "au1": 1, "au12": 0},
        {"path": "c.png", "database": "affwild2", "split": "test", "valence": -1.0, "arousal": 1.0},
        {"path": "d.png", "database": "ferplus", "split": "train"},
    ]
    frame = pd.DataFrame(rows)
    for c in SOFT:
        frame[c] = np.nan
    frame.loc[3, SOFT] = [0.5, 0, 0, 0, 0.25, 0.25, 0]
    return frame


def _write_csv(tmp_path, frame: pd.DataFrame, name="m.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_valid_csv_reads_and_resolves_paths(tmp_path):
    path = _write_csv(tmp_path, _frame())
    m = read_manifest(path, TASKS)
    assert len(m) == 4 and m.source == str(path)
    assert m.image_paths()[0] == tmp_path / "a.png"
    assert len(m.split("train")) == 2 and set(m.split("test").frame["database"]) == {"affwild2"}
    other = read_manifest(path, TASKS, root="/data/x")
    assert str(other.image_paths()[1]) == "/data/x/b.png"


@pytest.mark.parametrize("column, value, line, needle", [
    ("split", "training", 3, "'split'"),
    ("expr", 7, 2, "'expr'"),
    ("expr", -2, 2, "'expr'"),
    ("expr", 2.5, 2, "'expr'"),
    ("expr", "joy", 2, "'expr': 'joy'"),
    ("au12", 2, 3, "'au12'"),
    ("valence", 1.5, 4, "'valence'"),
    ("arousal", "high", 4, "'arousal'"),
    ("path", "", 5, "'path'"),
])
def test_each_bad_value_is_reported_with_file_line_and_column(tmp_path, column, value, line, needle):
    frame = _frame().astype({"expr": object, "au12": object, "valence": object, "arousal": object})
    frame.loc[line - 2, column] = value
    path = _write_csv(tmp_path, frame)
    with pytest.raises(ManifestError) as err:
        read_manifest(path, TASKS)
    assert len(err.value.problems) == 1
    problem = err.value.problems[0]
    assert problem.startswith(f"{path}, line {line}, column ") and needle in problem
    assert str(path) in str(err.value)


def test_all_bad_rows_are_reported_at_once(tmp_path):
    frame = _frame().astype({"au12": object})
    frame.loc[0, "split"] = "dev"
    frame.loc[1, "au12"] = 2
    frame.loc[2, "valence"] = 1.5
    frame.loc[3, SOFT] = [0.5, 0, 0, 0, 0.25, 0.25, 0.5]  # sums to 1.5
    with pytest.raises(ManifestError) as err:
        read_manifest(_write_csv(tmp_path, frame), TASKS)
    lines = sorted(p.split(", line ")[1].split(",")[0] for p in err.value.problems)
    assert lines == ["2", "3", "4", "5"]
    assert "4 problem(s)" in str(err.value)


def test_values_are_shown_as_written_not_as_numpy_reprs(tmp_path):
    frame = _frame()
    frame.loc[1, "au12"] = 2
    with pytest.raises(ManifestError) as err:
        read_manifest(_write_csv(tmp_path, frame), TASKS)
    assert err.value.problems == [f"{tmp_path / 'm.csv'}, line 3, column 'au12': 2.0 must be 0, 1 or empty"]


def test_soft_label_not_summing_to_one_and_partial_soft_label(tmp_path):
    frame = _frame()
    frame.loc[3, SOFT] = [0.5, 0, 0, 0, 0.25, 0.25, 0.2]
    frame.loc[0, SOFT] = [0.5, 0.5, np.nan, np.nan, np.nan, np.nan, np.nan]
    with pytest.raises(ManifestError) as err:
        read_manifest(_write_csv(tmp_path, frame), TASKS)
    problems = sorted(err.value.problems)
    assert len(problems) == 2
    assert "line 2" in problems[0] and "some values missing" in problems[0] and "expr_soft_" in problems[0]
    assert "line 5" in problems[1] and "not a probability vector" in problems[1] and "1.2000" in problems[1]


def test_incomplete_set_of_soft_columns_is_rejected(tmp_path):
    frame = _frame().drop(columns=[SOFT[-1]])
    with pytest.raises(ManifestError, match="incomplete"):
        read_manifest(_write_csv(tmp_path, frame), TASKS)


def test_missing_required_column_and_missing_file(tmp_path):
    with pytest.raises(ManifestError, match=r"missing required column\(s\) \['split'\]"):
        read_manifest(_write_csv(tmp_path, _frame().drop(columns=["split"])), TASKS)
    with pytest.raises(ManifestError, match="does not exist"):
        read_manifest(tmp_path / "none.csv", TASKS)


def test_unreadable_parquet_is_a_manifest_error(tmp_path):
    path = tmp_path / "m.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(ManifestError, match="cannot be read as Parquet"):
        read_manifest(path, TASKS)


def test_class_names_are_accepted_for_multiclass(tmp_path):
    frame = _frame().astype({"expr": object})
    frame.loc[0, "expr"] = "happiness"
    frame.loc[1, "expr"] = "3"
    m = read_manifest(_write_csv(tmp_path, frame), TASKS)
    assert m.frame["expr"].tolist()[:2] == [4, 3]
    assert encode_labels(m.frame, TASKS)["expr"].tolist() == [4, 3, -1, -1]


def test_csv_and_parquet_give_the_same_labels(tmp_path):
    frame = _frame()
    csv = read_manifest(write_manifest(frame, tmp_path / "m.csv"), TASKS)
    parquet = read_manifest(write_manifest(frame, tmp_path / "m.parquet"), TASKS)
    a, b = encode_labels(csv.frame, TASKS), encode_labels(parquet.frame, TASKS)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not (tmp_path / "m.csv.tmp").exists()


def test_parquet_problems_name_the_row(tmp_path):
    frame = _frame()
    frame.loc[2, "valence"] = 3.0
    path = write_manifest(frame, tmp_path / "m.parquet")
    with pytest.raises(ManifestError) as err:
        read_manifest(path, TASKS)
    assert err.value.problems == [f"{path}, row 2, column 'valence': 3.0 must be a number in [-1.0, 1.0] or empty"]


def test_encode_labels_shapes_and_missing_conventions():
    frame = validate_frame(_frame(), TASKS)
    labels = encode_labels(frame, TASKS)
    assert labels["expr"].dtype == np.int64 and labels["expr"].tolist() == [4, -1, -1, -1]
    assert labels["expr_soft"].shape == (4, 7) and labels["expr_soft"].dtype == np.float32
    assert np.isnan(labels["expr_soft"][:3]).all()
    np.testing.assert_allclose(labels["expr_soft"][3], [0.5, 0, 0, 0, 0.25, 0.25, 0])
    au = labels["au"]
    assert au.shape == (4, 17) and au.dtype == np.float32
    assert au[1, AU_NAMES.index("au1")] == 1 and au[1, AU_NAMES.index("au12")] == 0
    assert np.isnan(au[1, AU_NAMES.index("au2")])  # column absent: not annotated
    assert np.isnan(au[[0, 2, 3]]).all()
    np.testing.assert_allclose(labels["va"][:3], [[0.5, -0.2], [np.nan, np.nan], [-1.0, 1.0]])


def test_task_presence():
    labels = encode_labels(validate_frame(_frame(), TASKS), TASKS)
    presence = task_presence(labels, TASKS)
    assert presence["expr"].tolist() == [True, False, False, True]  # row 3 via its soft label
    assert presence["au"].tolist() == [False, True, False, False]
    assert presence["va"].tolist() == [True, False, True, False]


def test_unknown_columns_are_kept_and_listed():
    frame = _frame()
    frame["annotator"] = "x"
    out = validate_frame(frame, TASKS)
    assert out.attrs["unknown_columns"] == ["annotator"] and "annotator" in out


def test_concat_makes_paths_absolute(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    m1 = read_manifest(_write_csv(tmp_path / "a", _frame()), TASKS)
    m2 = read_manifest(_write_csv(tmp_path / "b", _frame()), TASKS)
    joined = concat_manifests([m1, m2])
    assert len(joined) == 8
    assert joined.image_paths()[0] == tmp_path / "a" / "a.png"
    assert joined.image_paths()[4] == tmp_path / "b" / "a.png"


def test_concat_of_a_manifest_read_by_relative_path_points_at_its_images(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    _write_csv(tmp_path / "data", _frame())
    monkeypatch.chdir(tmp_path)
    joined = concat_manifests([read_manifest("data/m.csv", TASKS)])
    assert joined.image_paths()[0] == tmp_path / "data" / "a.png"


def test_an_empty_database_cell_is_a_problem_with_its_line(tmp_path):
    frame = _frame()
    frame.loc[1, "database"] = ""
    frame.loc[2, "database"] = "  "
    path = _write_csv(tmp_path, frame)
    with pytest.raises(ManifestError) as err:
        read_manifest(path, TASKS)
    assert [p.split(", column")[0] for p in err.value.problems] == [f"{path}, line 3", f"{path}, line 4"]
    assert all("column 'database': empty" in p for p in err.value.problems)


def test_a_sample_repeated_in_one_split_is_a_problem_per_repeat(tmp_path):
    frame = pd.concat([_frame(), _frame().iloc[[0, 0]], _frame().iloc[[1]].assign(path="./b.png")],
                      ignore_index=True)
    path = _write_csv(tmp_path, frame)
    with pytest.raises(ManifestError) as err:
        read_manifest(path, TASKS)
    assert err.value.problems == [
        f"{path}, line 6, column 'path': 'a.png' repeats the image of line 2 in split 'train'; list each sample once",
        f"{path}, line 7, column 'path': 'a.png' repeats the image of line 2 in split 'train'; list each sample once",
        f"{path}, line 8, column 'path': './b.png' repeats the image of line 3 in split 'val'; list each sample once"]


def test_the_same_image_with_another_box_or_in_another_split_is_not_a_repeat(tmp_path):
    frame = pd.concat([_frame(), _frame().iloc[[0]].assign(split="val")], ignore_index=True)
    frame["box"] = ["0 0 10 10", None, None, None, "0 0 10 10"]
    extra = _frame().iloc[[0]].assign(box="5 5 10 10")  # a second face in a.png
    m = read_manifest(_write_csv(tmp_path, pd.concat([frame, extra], ignore_index=True)), TASKS)
    assert len(m) == 6
    with pytest.raises(ManifestError, match="repeats the image and box of line 2"):
        read_manifest(_write_csv(tmp_path, pd.concat([frame, frame.iloc[[0]].assign(box="0  0 10 10")])), TASKS)


def test_split_overlap_is_refused_unless_allowed(tmp_path):
    from facebehavior.data.manifest import check_split_overlap

    frame = _frame()
    train = read_manifest(_write_csv(tmp_path, frame, "train.csv"), TASKS).split("train")
    other = frame.assign(split="val")
    val = read_manifest(_write_csv(tmp_path, other, "val.csv"), TASKS).split("val")
    with pytest.raises(ManifestError) as err:
        check_split_overlap(train, {"val": val, "test": None})
    assert "2 image(s) are both training and evaluation samples" in str(err.value)
    assert "data.allow_split_overlap" in str(err.value)
    assert err.value.problems[0] == f"{tmp_path / 'a.png'}: in the training rows ({tmp_path / 'train.csv'}) and in val " \
                                    f"({tmp_path / 'val.csv'})"
    assert len(check_split_overlap(train, {"val": val}, allow=True)) == 2
    assert check_split_overlap(train, {"val": read_manifest(_write_csv(tmp_path, frame), TASKS).split("val")}) == []


def test_write_manifest_is_atomic(tmp_path, monkeypatch):
    path = write_manifest(_frame(), tmp_path / "m.csv")
    before = path.read_text()

    def dies_halfway(self, target, *args, **kwargs):
        open(target, "w").write("path,database\nhalf")
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        write_manifest(_frame().head(1), path)
    assert path.read_text() == before
