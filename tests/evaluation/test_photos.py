"""`facebehavior evaluate PHOTOS`: labelled photos through detection and alignment, scored, with
every photo that could not be scored listed with its reason."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from tests.inference.conftest import checkpoint, fer_like_checkpoint, media  # noqa: F401  (fixtures)


@pytest.fixture
def labelled(media, tmp_path):
    """happy/: the astronaut (a face); neutral/: a faceless picture; confused/: a label no model has."""
    root = tmp_path / "photos"
    for folder, src in (("happy", media["astronaut"]), ("neutral", media["blank"]), ("Confused", media["astronaut"])):
        (root / folder).mkdir(parents=True)
        shutil.copy(src, root / folder / src.name)
    (root / "loose.jpg").write_bytes(media["astronaut"].read_bytes())  # outside any class folder
    (root / "happy" / "notes.txt").write_text("not an image")
    return root


def test_a_labelled_folder_is_scored_and_every_unscored_photo_is_named(fer_like_checkpoint, labelled, tmp_path):
    from facebehavior.evaluation.photos import evaluate_photos

    out = tmp_path / "eval"
    m = evaluate_photos(labelled, fer_like_checkpoint, out, say=lambda *_: None)
    assert (m["photos"], m["scored"]) == (2, 1)  # happy + neutral have known labels; one has a face
    assert m["no_face"] == [str((labelled / "neutral" / "blank.png").resolve())]
    reasons = {p["reason"].split(" ")[0] for p in m["problems"]}
    assert len(m["problems"]) == 4 and {"label", "not", "no"} <= reasons  # Confused, loose, notes.txt, no face
    assert m["accuracy"] in (0.0, 1.0) and m["per_class_recall"]["happiness"]["support"] == 1
    assert sum(map(sum, m["confusion"])) == 1
    for name in ("metrics.json", "report.md", "predictions.csv", "confusion.png"):
        assert (out / name).is_file()
    assert json.loads((out / "metrics.json").read_text())["scored"] == 1
    assert "no face found" in (out / "report.md").read_text()
    rows = pd.read_csv(out / "predictions.csv")
    assert set(rows["status"]) == {"ok", "no_face"}


def test_a_csv_with_synonyms_and_relative_paths(fer_like_checkpoint, media, tmp_path):
    from facebehavior.evaluation.photos import evaluate_photos

    shutil.copy(media["astronaut"], tmp_path / "a.jpg")
    (tmp_path / "labels.csv").write_text("image,Emotion\na.jpg,HAPPY\n,sad\nmissing.jpg,sad\n")
    m = evaluate_photos(tmp_path / "labels.csv", fer_like_checkpoint, tmp_path / "out", say=lambda *_: None)
    assert m["photos"] == 2 and m["scored"] == 1
    assert m["unreadable"] == [str((tmp_path / "missing.jpg").resolve())]
    assert any("empty image path" in p["reason"] for p in m["problems"])


def test_cli_evaluate_photos_prints_the_headline(fer_like_checkpoint, labelled, tmp_path):
    from facebehavior.cli.main import main

    assert main(["evaluate", str(labelled), "--checkpoint", str(fer_like_checkpoint),
                 "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "report.md").is_file()


def test_a_csv_without_the_needed_columns_is_a_clear_error(tmp_path):
    from facebehavior.errors import FaceBehaviorError
    from facebehavior.evaluation.photos import read_labelled_photos

    (tmp_path / "x.csv").write_text("file_name,mood\na.jpg,happy\n")
    with pytest.raises(FaceBehaviorError, match="needs an image column"):
        read_labelled_photos(tmp_path / "x.csv")
