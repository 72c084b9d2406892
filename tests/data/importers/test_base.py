import json

import numpy as np
import pytest

from facebehavior.data.importers import IMPORTERS, import_database
from facebehavior.data.importers.base import ImportReport, five_from_68, group_split, hashed_split
from facebehavior.errors import ConfigError, DataFormatError


def test_registry_lists_every_database_with_a_split_protocol():
    expected = {"affectnet", "rafdb", "rafdb_compound", "affwild2", "affwild", "afew_va", "emotionet", "disfa",
                "bp4d", "bp4d_plus", "gft", "celeba", "ferplus", "generic_csv"}
    assert set(IMPORTERS) == expected
    for name in IMPORTERS:
        importer = IMPORTERS[name]
        assert importer.name == name and importer.split_protocol and importer.title
    with pytest.raises(ConfigError, match="unknown database 'nope'"):
        IMPORTERS["nope"]


def test_group_split_is_deterministic_and_keeps_groups_whole():
    groups = [f"s{i}" for i in range(20)]
    a = group_split(groups, {"test": 0.2, "val": 0.1}, seed=3)
    assert a == group_split(list(reversed(groups)), {"test": 0.2, "val": 0.1}, seed=3)
    assert sorted(a.values()).count("test") == 4 and list(a.values()).count("val") == 2
    assert a != group_split(groups, {"test": 0.2, "val": 0.1}, seed=4)
    assert set(group_split(["only"], {"val": 0.5}, 0).values()) == {"train"}  # train keeps one group


def test_hashed_splits():
    keys = [f"img{i}.jpg" for i in range(2000)]
    split = hashed_split(keys, 0.1, seed=0)
    assert 150 < (split == "val").sum() < 250
    assert (hashed_split(keys[:10], 0.1, seed=0) == split[:10]).all()  # stable whatever else is there


def test_five_points_from_68():
    points = np.stack([np.arange(68), 2 * np.arange(68)], 1)
    assert five_from_68(points).tolist() == [[38.5, 77], [44.5, 89], [30, 60], [48, 96], [54, 108]]


def test_report_counts_examples_and_json(tmp_path):
    report = ImportReport("x", "/data")
    for line in range(15):
        report.drop("bad", f"f.txt:{line}")
    report.issue("null", "f.txt:3", count=4)
    assert report.rows_dropped == 15 and len(report.dropped_where["bad"]) == 10
    data = json.loads(report.write_json(tmp_path / "r.json").read_text())
    assert data["dropped"] == {"bad": 15} and data["issues"] == {"null": 4}
    assert "15  bad (e.g. f.txt:0)" in report.summary()


def test_root_must_exist_and_options_are_checked(tmp_path):
    with pytest.raises(DataFormatError, match="is not a folder"):
        import_database("ferplus", tmp_path / "missing", tmp_path / "out")
    with pytest.raises(ConfigError, match="subsample"):
        import_database("affwild2", tmp_path, tmp_path / "out", subsample=0)
    with pytest.raises(ConfigError, match="test_fraction"):
        import_database("disfa", tmp_path, tmp_path / "out", test_fraction=1.5)
    with pytest.raises(ConfigError, match="format"):
        import_database("ferplus", tmp_path, tmp_path / "out", format="xlsx")


@pytest.mark.parametrize("encoding, how", [("utf-8", "default"), ("utf-8-sig", "byte-order mark"),
                                           ("utf-16", "byte-order mark"), ("utf-16-le", "NUL bytes of UTF-16 text"),
                                           ("utf-16-be", "NUL bytes of UTF-16 text"), ("utf-32", "byte-order mark")])
def test_read_lines_recognises_utf8_and_utf16_32_by_their_bytes(tmp_path, encoding, how):
    from facebehavior.data.importers.base import read_lines, text_encoding

    path = tmp_path / "labels.txt"
    path.write_text("img,émotion\na.jpg,happy\n", encoding=encoding)
    assert text_encoding(path)[1] == how
    assert list(read_lines(path)) == [(1, "img,émotion"), (2, "a.jpg,happy")]


def test_8bit_text_is_never_guessed_but_named_with_its_line(tmp_path):
    from facebehavior.data.importers.base import read_lines

    path = tmp_path / "labels.txt"
    path.write_bytes("img,label\na.jpg,happy\nb.jpg,f\xe2ch\xe9\n".encode("latin-1"))
    with pytest.raises(DataFormatError, match=r"labels.txt: is not utf-8 text at line 3 \(byte 0xe2\).*name its "
                                              "encoding"):
        list(read_lines(path))
    assert list(read_lines(path, "latin-1"))[2] == (3, "b.jpg,fâché")
    with pytest.raises(DataFormatError, match="encoding 'klingon' is unknown"):
        list(read_lines(path, "klingon"))
    (tmp_path / "binary.bin").write_bytes(b"\x00\x01\x02\x00\x00\x05\x06\x00" * 10)
    with pytest.raises(DataFormatError, match="NUL bytes and is not UTF-16"):
        list(read_lines(tmp_path / "binary.bin"))


def test_every_importer_keeps_a_repeated_row_once_and_a_conflicting_image_not_at_all():
    import pandas as pd

    from facebehavior.data.importers.driver import _drop_repeats

    frame = pd.DataFrame({"path": ["a", "a", "b", "b", "c", "c", "d"], "split": ["train"] * 5 + ["val", "train"],
                          "expr": [1, 1, 2, 3, 4, 4, 5], "box": [None] * 6 + ["1 2 3 4"]})
    report = ImportReport("x", "/")
    kept = _drop_repeats(frame, report)
    assert kept["path"].tolist() == ["a", "d"]
    assert report.dropped == {"duplicate row: the same image, split and labels as an earlier row": 1,
                              "image listed more than once with different labels or splits: none of its rows kept": 4}
    assert report.dropped_where["duplicate row: the same image, split and labels as an earlier row"] == ["a"]


def test_the_import_report_is_written_atomically(tmp_path, monkeypatch):
    from pathlib import Path

    report = ImportReport("x", "/")
    path = report.write_json(tmp_path / "import_report.json")
    before = path.read_text()
    real = Path.write_text

    def dies_halfway(self, text, *args, **kwargs):
        real(self, text[:5], *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_text", dies_halfway)
    report.rows_read = 5
    with pytest.raises(KeyboardInterrupt):
        report.write_json(path)
    monkeypatch.undo()
    assert path.read_text() == before and json.loads(before)["rows_read"] == 0
