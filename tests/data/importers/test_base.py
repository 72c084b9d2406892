import json

import numpy as np
import pytest

from facebehavior.data.importers import IMPORTERS, import_database
from facebehavior.data.importers.base import ImportReport, five_from_68, group_split, hashed_split, row_split
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


def test_hashed_and_row_splits():
    keys = [f"img{i}.jpg" for i in range(2000)]
    split = hashed_split(keys, 0.1, seed=0)
    assert 150 < (split == "val").sum() < 250
    assert (hashed_split(keys[:10], 0.1, seed=0) == split[:10]).all()  # stable whatever else is there
    assert (row_split(10, 0.3, 1) == "val").sum() == 3


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
