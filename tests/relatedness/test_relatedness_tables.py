"""Relatedness tables: the shipped du2014 / Aff-Wild2 tables, modes, reindexing, CSV round trip, errors."""

import numpy as np
import pytest

from facebehavior.errors import DataFormatError
from facebehavior.labels import AU_NAMES, EXPRESSIONS
from facebehavior.relatedness import Relatedness, load_category_rows, load_relatedness


def _row(rel: Relatedness, name: str) -> dict[str, float]:
    values = rel.weights[rel.rows.index(name)]
    return {c: float(v) for c, v in zip(rel.cols, values) if v > 0}


def test_du2014_is_7_by_17_over_canonical_labels():
    rel = load_relatedness("du2014")
    assert rel.rows == EXPRESSIONS and rel.cols == AU_NAMES
    assert rel.weights.shape == (7, 17)


def test_du2014_sadness_row_and_au11_note():
    rel = load_relatedness("du2014")
    assert _row(rel, "sadness") == pytest.approx({"au4": 1.0, "au15": 1.0, "au1": 0.6, "au6": 0.5, "au17": 0.67})
    assert any("AU 11" in n and "dropped" in n for n in rel.notes)
    sad = rel.rows.index("sadness")
    assert rel.prototypical[sad, AU_NAMES.index("au4")] and not rel.prototypical[sad, AU_NAMES.index("au1")]


def test_du2014_other_basic_rows_match_table1():
    rel = load_relatedness("du2014")
    assert _row(rel, "happiness") == pytest.approx({"au12": 1, "au25": 1, "au6": 0.51})
    assert _row(rel, "fear") == pytest.approx({"au1": 1, "au4": 1, "au20": 1, "au25": 1, "au2": 0.57,
                                               "au5": 0.63, "au26": 0.33})
    assert _row(rel, "anger") == pytest.approx({"au4": 1, "au7": 1, "au24": 1, "au10": 0.26, "au17": 0.52,
                                                "au23": 0.29})
    assert _row(rel, "surprise") == pytest.approx({"au1": 1, "au2": 1, "au25": 1, "au26": 1, "au5": 0.66})
    assert _row(rel, "disgust") == pytest.approx({"au9": 1, "au10": 1, "au17": 1, "au4": 0.31, "au24": 0.26})
    assert _row(rel, "neutral") == {}


def test_binary_versus_weighted_matrix():
    rel = load_relatedness("du2014")
    binary, weighted = rel.matrix("binary"), rel.matrix("weighted")
    assert set(np.unique(binary)) == {0.0, 1.0}
    assert np.array_equal(binary > 0, weighted > 0)
    hap, au6 = EXPRESSIONS.index("happiness"), AU_NAMES.index("au6")
    assert binary[hap, au6] == 1.0 and weighted[hap, au6] == pytest.approx(0.51)
    weighted[0, 0] = 0.9  # a copy: the table itself is unchanged
    assert rel.weights[0, 0] == 0.0
    with pytest.raises(ValueError):
        rel.matrix("soft")


def test_affwild2_empirical_has_no_prototypical_links():
    rel = load_relatedness("affwild2_empirical")
    assert rel.weights.shape == (7, 17)
    assert _row(rel, "happiness") == pytest.approx({"au12": 0.82, "au25": 0.70, "au6": 0.57, "au7": 0.83,
                                                    "au10": 0.63})
    assert _row(rel, "disgust")["au10"] == pytest.approx(0.85)
    assert not rel.prototypical.any()
    assert _row(rel, "neutral") == {}


def test_category_rows_include_compounds_with_components():
    rows = {r.name: r for r in load_category_rows("du2014")}
    assert len(rows) >= 6 + 13
    hs = rows["happily_surprised"]
    assert hs.kind == "compound" and hs.components == ("happiness", "surprise")
    assert hs.weights() == pytest.approx({1: 1, 2: 1, 12: 1, 25: 1, 5: 0.64, 26: 0.67})
    assert 11 in rows["sadness"].weights()  # kept in the source rows, dropped only in the 17-AU matrix


def test_reindex_reorders_and_zero_fills_unknown_labels():
    rel = load_relatedness("du2014")
    out = rel.reindex(("surprise", "happiness", "contempt"), ("au25", "au6", "au43"))
    np.testing.assert_allclose(out.weights, [[1.0, 0.0, 0.0], [1.0, 0.51, 0.0], [0.0, 0.0, 0.0]], rtol=1e-6)
    assert out.prototypical.tolist() == [[True, False, False], [True, False, False], [False, False, False]]
    none = rel.reindex(("a", "b"), ("c",))
    assert none.weights.shape == (2, 1) and not none.weights.any()
    assert "1 rows not in builtin:du2014 get zero relatedness: ['contempt']" in out.notes
    assert any("columns" in n and "au43" in n for n in out.notes)
    assert not [n for n in rel.reindex(EXPRESSIONS, AU_NAMES).notes if "zero relatedness" in n]


def test_matrix_csv_round_trip(tmp_path):
    rel = load_relatedness("du2014")
    path = tmp_path / "rel.csv"
    rel.save_csv(path)
    back = load_relatedness(path)
    assert back.rows == rel.rows and back.cols == rel.cols
    np.testing.assert_allclose(back.weights, rel.weights, atol=1e-5)
    assert np.array_equal(back.prototypical, rel.weights >= 1.0)
    assert back.source == str(path)


def test_custom_label_matrix_keeps_its_labels(tmp_path):
    path = tmp_path / "attrs.csv"
    path.write_text("class,Smiling,Male\nid0,1,0.25\nid1,0,1\n")
    rel = load_relatedness(path)
    assert rel.rows == ("id0", "id1") and rel.cols == ("Smiling", "Male")
    assert rel.weights.tolist() == [[1.0, 0.25], [0.0, 1.0]]


@pytest.mark.parametrize("body, line, what", [
    ("class,au1,au2\nhappiness,0.5,0.2\nsadness,0.5,1.5\n", 3, "au2"),      # out of [0, 1]
    ("class,au1,au2\nhappiness,0.5\n", 2, "au2"),                          # missing value
    ("class,au1,au2\nhappiness,0.5,0.1\nsadness,abc,0.3\n", 3, "au1"),     # not a number
])
def test_bad_matrix_csv_names_file_line_and_column(tmp_path, body, line, what):
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(DataFormatError) as err:
        load_relatedness(path)
    msg = str(err.value)
    assert str(path) in msg and f"line {line}" in msg and what in msg


def test_empty_or_ragged_table_file_is_a_format_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataFormatError, match="empty"):
        load_relatedness(path)
    path.write_text("class,au1\nhappiness,0.5\nsadness,0.1,0.2,0.3\n")
    with pytest.raises(DataFormatError, match=str(path)):
        load_relatedness(path)


@pytest.mark.parametrize("variant, message", [
    ("6:x", "weight 'x' is not a number"),
    ("6:1.5", "outside (0, 1]"),
    ("6", "expected 'AU:weight'"),
    ("AUx:0.5", "is not an AU number"),
])
def test_bad_category_csv_names_file_and_line(tmp_path, variant, message):
    path = tmp_path / "cats.csv"
    path.write_text("category,kind,components,prototypical_aus,variant_aus\n"
                    "sadness,basic,sadness,4;15,1:0.6\n"
                    f"happiness,basic,happiness,12;25,{variant}\n")
    with pytest.raises(DataFormatError) as err:
        load_relatedness(path)
    assert f"{path}, line 3" in str(err.value) and message in str(err.value)


def test_unknown_header_and_missing_table_are_format_errors(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("category,aus\nhappiness,12\n")
    with pytest.raises(DataFormatError, match="not a categories table"):
        load_category_rows(path)
    with pytest.raises(DataFormatError, match="neither a built-in"):
        load_relatedness(tmp_path / "nope.csv")


def test_relatedness_rejects_wrong_shape_or_range():
    with pytest.raises(ValueError):
        Relatedness(("a",), ("x", "y"), np.zeros((2, 2)), np.zeros((2, 2), bool))
    with pytest.raises(ValueError):
        Relatedness(("a",), ("x",), np.array([[1.2]]), np.array([[True]]))
