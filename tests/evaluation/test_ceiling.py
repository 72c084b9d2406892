"""The ceiling of the study reports: what a perfect perceiver of SynthFace's AUs would score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from facebehavior.evaluation.ceiling import AU_COLUMNS, ceiling_columns, ceiling_scores
from facebehavior.labels import AUS


def _database(root, name, n, rng, informative: bool):
    """A fake SynthFace database: expression = which of AUs 0..6 is on (or noise), VA from it."""
    rows, truth = [], []
    for i in range(n):
        split = "train" if i < n * 0.7 else "test"
        expr = int(rng.integers(0, 7))
        intens = np.zeros(len(AUS))
        on = expr if informative else int(rng.integers(0, 7))
        intens[on] = rng.uniform(0.3, 1.0)
        valence = (expr - 3) / 3 + rng.normal(0, 0.01)
        arousal = intens[on] if informative else rng.uniform(-1, 1)
        aus = {f"au{a}": int(intens[j] > 0) for j, a in enumerate(AUS)}
        rows.append({"path": f"images/{i:06d}.png", "database": name, "split": split, "subject": f"{name}/s{i}",
                     "expr": expr, **aus, "valence": valence, "arousal": arousal})
        truth.append({"path": f"images/{i:06d}.png", "split": split,
                      **{c: intens[j] for j, c in enumerate(AU_COLUMNS)}})
    (root / name).mkdir()
    pd.DataFrame(rows).to_csv(root / name / "manifest.csv", index=False)
    pd.DataFrame(truth).to_csv(root / name / "truth.csv", index=False)
    return {"name": name, "role": "train", "manifest": f"{name}/manifest.csv", "truth": f"{name}/truth.csv",
            "metrics": {"expr": "mean_diag", "va": "ccc", "au": "f1"}, "au_subset": ["au1", "au2", "au4"]}


def test_labels_that_the_aus_determine_reach_the_top_and_noise_stays_at_chance(tmp_path):
    rng = np.random.default_rng(0)
    preset = {"databases": [_database(tmp_path, "clear", 700, rng, True),
                            _database(tmp_path, "noise", 700, rng, False)]}
    got = ceiling_scores(preset, tmp_path)
    clear, noise = got["clear"], got["noise"]
    assert clear["expr"]["mean_diag"]["ceiling"] == pytest.approx(1.0)
    assert clear["expr"]["mean_diag"]["chance"] == pytest.approx(1 / 7)
    assert clear["va"]["ccc/valence"]["ceiling"] > 0.98 and clear["va"]["ccc/arousal"]["ceiling"] > 0.95
    assert noise["expr"]["mean_diag"]["ceiling"] < 0.3
    assert abs(noise["va"]["ccc/arousal"]["ceiling"]) < 0.2
    # AUs: the truth is the label, so the ceiling is 1; chance is "every AU present"
    assert clear["au"]["f1"]["ceiling"] == pytest.approx(1.0)
    assert 0 < clear["au"]["f1"]["chance"] < 0.5


def test_accuracy_chance_is_the_train_majority_class(tmp_path):
    rng = np.random.default_rng(1)
    db = _database(tmp_path, "acc", 400, rng, True)
    db["metrics"] = {"expr": "accuracy"}
    got = ceiling_scores({"databases": [db]}, tmp_path)["acc"]["expr"]["accuracy"]
    m = pd.read_csv(tmp_path / "acc" / "manifest.csv")
    majority = np.bincount(m[m.split == "train"].expr, minlength=7).argmax()  # ties: the lowest index
    assert got["chance"] == pytest.approx((m[m.split == "test"].expr == majority).mean())
    assert got["ceiling"] == pytest.approx(1.0)


@pytest.mark.slow  # generates SynthFace and fits the ceiling's models (seconds to minutes)
def test_generated_synthface_gets_a_ceiling_per_report_column(tmp_path):
    """On real generator output (tiny scale): every training and unseen column has a ceiling above
    chance, unseen databases included (fitted on the training databases' train splits)."""
    from facebehavior.synthface import generate_preset, read_preset
    from facebehavior.studies.common import report_columns

    preset = read_preset(generate_preset("affect", tmp_path, size=16, seed=0, scale=0.05, workers=1))
    columns = report_columns(preset)
    cells = ceiling_columns(ceiling_scores(preset, tmp_path), columns)
    assert set(cells) == {c[3] for c in columns}
    for header, cell in cells.items():
        assert cell["ceiling"] is not None and cell["ceiling"] > cell["chance"], header
    assert cells["synth_rafdb expr mean_diag"]["ceiling"] > 0.4
    # AUs: the labels are the truth's presence, so the ceiling is the labels scored against themselves
    # (below 1 only where an annotated AU has no positive in a tiny test split: F1 0 by convention)
    from facebehavior.evaluation.metrics import mean_f1

    gft = pd.read_csv(tmp_path / "synth_gft" / "manifest.csv")
    labels = gft[gft.split == "test"][["au1", "au2", "au4", "au6", "au10", "au12", "au14", "au15", "au23", "au24"]]
    assert cells["synth_gft (unseen) au f1"]["ceiling"] == pytest.approx(mean_f1(labels.to_numpy(float),
                                                                                  labels.to_numpy(float)))
