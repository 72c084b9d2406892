"""EmotioNet's compound classes: the paper's 16 categories (6 basic + 10 compound), read from the data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from facebehavior.compound import resolve_classes
from facebehavior.compound.classes import label_space
from facebehavior.compound.evaluate import candidate_classes, evaluate_zero_shot
from facebehavior.data.importers.labelspaces import EMOTIONET_CATEGORIES

IMAGE_SIZE = 32

ABSENT = "disgustedly_surprised"  # any one of the 11: the test does not claim which one the challenge lacks


@pytest.fixture(scope="module")
def challenge_like_manifest(tmp_path_factory):
    """Random images labelled with 16 of the importer's 17 EmotioNet categories, as the challenge set."""
    root = tmp_path_factory.mktemp("emotionet")
    (root / "img").mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for c, name in enumerate(EMOTIONET_CATEGORIES):
        if name == ABSENT:
            continue
        for k in range(2):
            path = f"img/{c}_{k}.png"
            Image.fromarray(rng.integers(0, 255, (IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)).save(root / path)
            rows.append({"path": path, "database": "emotionet", "split": "test", "emotionet_category": c})
    path = root / "manifest.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_categories_no_row_uses_leave_the_class_set(challenge_like_manifest):
    cs, notes = candidate_classes(resolve_classes("emotionet"), label_space("emotionet"), challenge_like_manifest)
    assert len(cs) == 16 and cs.kinds.count("basic") == 6 and cs.kinds.count("compound") == 10
    assert cs.names == tuple(n for n in EMOTIONET_CATEGORIES if n != ABSENT)
    assert len(notes) == 1 and ABSENT in notes[0]
    full = resolve_classes("emotionet")
    i, j = cs.names.index("sadly_angry"), full.names.index("sadly_angry")
    assert np.array_equal(cs.au_weights[i], full.au_weights[j]) and cs.valence_term[i] == full.valence_term[j]


def test_classes_outside_the_label_space_stay(challenge_like_manifest):
    cs = resolve_classes(f"happiness,awed,{ABSENT}")  # awed: no EmotioNet category, the user's choice
    kept, notes = candidate_classes(cs, label_space("emotionet"), challenge_like_manifest)
    assert kept.names == ("happiness", "awed") and ABSENT in notes[0]


def test_zero_shot_on_the_challenge_set_scores_its_16_categories(tiny_checkpoint, challenge_like_manifest, tmp_path):
    payload = evaluate_zero_shot(tiny_checkpoint, challenge_like_manifest, "emotionet", out_dir=tmp_path)
    assert len(payload["classes"]) == 16 and ABSENT not in payload["classes"]
    assert any(ABSENT in note for note in payload["notes"])
    assert len(payload["metrics"]["per_class_recall"]) == 16


def test_other_label_spaces_keep_every_class(random_compound_manifest, tmp_path):
    # a RAF-DB manifest without happily_surprised rows: RAF-DB's list is RAF-DB's own, the class stays
    frame = pd.read_csv(random_compound_manifest)
    path = tmp_path / "manifest.csv"
    frame[frame["compound"] != 0].to_csv(path, index=False)
    (tmp_path / "img").symlink_to(random_compound_manifest.parent / "img")
    kept, notes = candidate_classes(resolve_classes("rafdb"), label_space("rafdb"), path)
    assert len(kept) == 11 and notes == []
