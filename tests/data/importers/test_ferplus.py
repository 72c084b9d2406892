import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from facebehavior.data.importers import FERPLUS8, import_database
from facebehavior.data.importers.ferplus import barsoum_majority_all, plurality_all
from facebehavior.data.manifest import read_manifest
from facebehavior.labels import EXPRESSIONS, TaskSpec, affect_tasks


SHARED = Path(os.environ.get("FACEBEHAVIOR_SHARED", Path(__file__).resolve().parents[3] / ".." / "shared"))
TASKS = affect_tasks() + [TaskSpec("ferplus8", "multiclass", FERPLUS8)]
TRAIN_IMAGES = [f"FER2013Train/fer000000{i}.png" for i in range(9)]
IMAGES = TRAIN_IMAGES + ["FER2013Valid/fer0028638.png", "FER2013Test/fer0032220.png"]


def load(native, tmp_path, **options):
    root = native("ferplus", IMAGES)
    report = import_database("ferplus", root, tmp_path / "out", **options)
    manifest = read_manifest(tmp_path / "out" / "ferplus.csv", TASKS)
    frame = manifest.frame.set_index(manifest.frame["path"].str.rsplit("/", n=1).str[-1])
    return report, frame


def test_counts_and_drop_reasons_with_line_numbers(native, tmp_path):
    report, frame = load(native, tmp_path)
    assert (report.rows_read, report.rows_kept) == (12, 8)
    assert report.dropped == {"top vote is unknown": 1, "top vote is NF (not a face)": 1,
                              "malformed line: 5 fields, expected 12": 1, "image file missing": 1}
    assert report.dropped_where["malformed line: 5 fields, expected 12"][0].endswith("FER2013Train/label.csv:6")
    assert report.dropped_where["top vote is unknown"][0].endswith("label.csv:3")
    assert report.splits == {"train": 6, "val": 1, "test": 1}
    assert (tmp_path / "out" / "import_report.json").is_file()


def test_majority_and_both_label_spaces(native, tmp_path):
    _, f = load(native, tmp_path)
    neutral = f.loc["fer0000001.png"]
    assert neutral.ferplus8 == 0 and neutral.expr == EXPRESSIONS.index("neutral")
    assert neutral.ferplus8_soft_neutral == pytest.approx(6 / 8)
    happy = f.loc["fer0000006.png"]
    assert happy.ferplus8 == FERPLUS8.index("happiness") and happy.expr == EXPRESSIONS.index("happiness")
    assert f.loc["fer0028638.png"].expr == EXPRESSIONS.index("surprise")
    # 4,0,0,1,3,2: after removing the single vote no class holds > 50% → soft label only
    no_majority = f.loc["fer0000000.png"]
    assert pd.isna(no_majority.ferplus8) and pd.isna(no_majority.expr)
    assert no_majority.ferplus8_soft_anger == pytest.approx(0.3)
    assert no_majority.expr_soft_neutral == pytest.approx(0.4)


def test_contempt_has_no_canonical_class_and_soft7_is_renormalised(native, tmp_path):
    report, f = load(native, tmp_path)
    contempt = f.loc["fer0000004.png"]
    assert contempt.ferplus8 == FERPLUS8.index("contempt") and pd.isna(contempt.expr)
    assert contempt.ferplus8_soft_contempt == pytest.approx(8 / 9)
    assert contempt.expr_soft_anger == pytest.approx(1.0)  # the only non-contempt vote
    only_contempt = f.loc["fer0000008.png"]
    assert np.isnan(only_contempt[[f"expr_soft_{e}" for e in EXPRESSIONS]].astype(float)).all()
    assert report.issues["majority is contempt: no canonical expression"] == 3


def test_plurality_rule_leaves_ties_without_hard_label(native, tmp_path):
    report, f = load(native, tmp_path, majority="plurality")
    assert pd.isna(f.loc["fer0000007.png"].ferplus8)
    assert f.loc["fer0000000.png"].ferplus8 == FERPLUS8.index("neutral")
    assert report.issues["tied top vote: hard labels null"] == 1


def test_majority_helpers():
    votes = np.array([[6, 0, 1, 1, 0, 0, 0, 0, 2, 0], [5, 5, 0, 0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0, 0, 7, 0],
                      [0, 2, 0, 0, 0, 0, 0, 0, 0, 0]])
    assert barsoum_majority_all(votes).tolist() == [0, -1, -1, 1]  # row 3: unknown holds the majority
    assert plurality_all(votes[:, :8]).tolist() == [0, -1, -1, 1]


@pytest.mark.skipif(not (SHARED / "data" / "ferplus").is_dir(), reason="shared FER+ data not found at ../shared")
def test_real_ferplus_counts(tmp_path):
    report = import_database("ferplus", SHARED / "data" / "ferplus", tmp_path)
    assert report.rows_read == 35710
    assert report.splits == {"train": 28385, "val": 3555, "test": 3545}
    frame = read_manifest(tmp_path / "ferplus.csv", TASKS).frame
    hard = frame.dropna(subset=["ferplus8"]).groupby("split").size().to_dict()
    # The reference reader's majority mode keeps exactly these (microsoft/FERPlus, Barsoum et al.).
    assert hard == {"train": 25045, "val": 3191, "test": 3137}
