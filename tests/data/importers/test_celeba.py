import pandas as pd
import pytest

from facebehavior.data.importers import import_database
from facebehavior.data.importers.celeba import resplit
from facebehavior.data.manifest import read_manifest
from facebehavior.errors import DataFormatError
from facebehavior.labels import CELEBA_ATTRIBUTES, TaskSpec

IMAGES = [f"img_align_celeba/{i:06d}.jpg" for i in range(1, 9)]
TASKS = [TaskSpec("identity", "multiclass", ("id0", "id1")), TaskSpec("attributes", "multilabel", CELEBA_ATTRIBUTES)]


def run(native, tmp_path, **options):
    report = import_database("celeba", native("celeba", IMAGES), tmp_path, **options)
    frame = read_manifest(tmp_path / "celeba.csv", TASKS).frame
    frame.index = frame["path"].str.rsplit("/", n=1).str[-1]
    return report, frame


def test_attributes_identities_and_released_partition(native, tmp_path):
    report, f = run(native, tmp_path)
    assert (report.rows_read, report.rows_kept) == (8, 6)
    assert report.dropped_where["malformed line: expected a name and 40 values of -1/1"][0] \
        .endswith("list_attr_celeba.txt:9")
    assert report.dropped["no entry in list_eval_partition.txt"] == 1
    assert report.issues_where["malformed identity_CelebA.txt line: ignored"][0].endswith("identity_CelebA.txt:8")
    assert report.issues_where["malformed list_eval_partition.txt line: ignored"][0] \
        .endswith("list_eval_partition.txt:8")
    first = f.loc["000001.jpg"]
    assert (first["5_o_Clock_Shadow"], first["Arched_Eyebrows"], first["Big_Lips"]) == (1, 0, 1)  # (j + i) % 3 == 0
    assert first["Attractive"] == 0 and f.loc["000002.jpg", "Arched_Eyebrows"] == 0
    assert f.loc["000003.jpg", "Arched_Eyebrows"] == 1  # row 2, column 1: (1 + 2) % 3 == 0 → "1"
    # identity = index over the sorted ids {17, 2880}; the original id is kept as subject
    assert first["identity"] == 1 and float(first["subject"]) == 2880  # read_manifest parses ids as numbers
    assert pd.isna(f.loc["000008.jpg", "identity"])
    assert f.loc[["000004.jpg", "000005.jpg"], "split"].tolist() == ["val", "test"]
    assert first["landmarks"] == "69 109 106 113 77 142 73 152 108 154" and f["aligned"].all()


def test_resplit_puts_every_identity_with_three_images_in_all_splits(native, tmp_path):
    report, f = run(native, tmp_path, resplit=True)
    assert report.dropped["no identity (resplit needs one)"] == 1
    assert set(f.loc[f.identity == 1, "split"]) == {"train", "val", "test"}
    assert set(f.loc[f.identity == 0, "split"]) == {"train"}  # one image only
    _, again = run(native, tmp_path / "again", resplit=True)
    assert again["split"].equals(f["split"])


def test_resplit_function_on_many_identities():
    frame = pd.DataFrame({"identity": [i % 7 for i in range(70)]})
    split = resplit(frame, seed=1)
    per_identity = pd.DataFrame({"identity": frame.identity, "split": split}).groupby("identity")["split"]
    assert per_identity.nunique().eq(3).all()
    assert (split == "test").sum() == 7 and (split == "val").sum() == 7


def test_wrong_header_fails(tmp_path):
    (tmp_path / "list_attr_celeba.txt").write_text("2\nSmiling Young\n000001.jpg 1 -1\n")
    with pytest.raises(DataFormatError, match="list_attr_celeba.txt:1-2"):
        import_database("celeba", tmp_path, tmp_path / "out")
