"""FER+ recipe: metrics on hand-made arrays, and the recipe end to end on a small subset of the
real FER+ data (skipped when ../shared/data/ferplus is absent)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from facebehavior.data.importers.labelspaces import FERPLUS8
from facebehavior.errors import ConfigError, FaceBehaviorError
from facebehavior.labels import EXPRESSIONS
from facebehavior.studies.ferplus_report import (ferplus8_to_expr7, protocol_metrics, vote_cross_entropy,
                                                 vote_entropy)

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("FACEBEHAVIOR_SHARED", REPO / ".." / "shared"))
FERPLUS = SHARED / "data" / "ferplus"
needs_ferplus = pytest.mark.skipif(not (FERPLUS / "FER2013Train" / "label.csv").is_file(),
                                   reason=f"FER+ data not found at {FERPLUS} (set FACEBEHAVIOR_SHARED)")
# A tiny network on 48×48 inputs: the test checks the plumbing, not the accuracy.
QUICK = ["train.epochs=1", "model.preset=tiny", "data.image_size=48", "data.batch_size=32",
         "train.warmup_steps=0", "train.checkpoint_every=0", "train.threads=1"]


def test_vote_cross_entropy_matches_hand_value_and_skips_rows_without_votes():
    probs = np.array([[0.5, 0.25, 0.25], [0.9, 0.05, 0.05], [1.0, 0.0, 0.0]])
    shares = np.array([[0.5, 0.5, 0.0], [np.nan] * 3, [0.0, 1.0, 0.0]])
    value, n = vote_cross_entropy(probs, shares)
    expected = (-(0.5 * np.log(0.5) + 0.5 * np.log(0.25)) - np.log(1e-7)) / 2  # p = 0 is floored
    assert n == 2 and value == pytest.approx(expected)


def test_cross_entropy_equals_entropy_only_for_the_vote_distribution_itself():
    shares = np.array([[0.7, 0.2, 0.1, 0.0], [0.25, 0.25, 0.25, 0.25]])
    assert vote_cross_entropy(shares, shares)[0] == pytest.approx(vote_entropy(shares))
    uniform = np.full_like(shares, 0.25)
    assert vote_cross_entropy(uniform, shares)[0] > vote_entropy(shares) + 0.05


def test_protocol_metrics_counts_only_majority_rows():
    probs = np.eye(3)[[0, 1, 2, 2, 0]]
    hard = np.array([0, 1, 1, -1, 0])  # row 3 has no majority
    m = protocol_metrics(probs, hard, None, ["a", "b", "c"])
    assert m["n_majority"] == 4 and m["accuracy"] == pytest.approx(0.75)
    assert m["per_class_recall"] == {"a": 1.0, "b": 0.5, "c": None}
    assert np.array(m["confusion"]).sum() == 4 and m["support"] == {"a": 2, "b": 2, "c": 0}


def test_ferplus8_to_expr7_drops_contempt_and_reorders():
    p8 = np.zeros((1, 8))
    p8[0, FERPLUS8.index("happiness")] = 0.3
    p8[0, FERPLUS8.index("contempt")] = 0.4
    p8[0, FERPLUS8.index("anger")] = 0.3
    p7 = ferplus8_to_expr7(p8)
    assert p7[0, EXPRESSIONS.index("happiness")] == pytest.approx(0.5)
    assert p7[0, EXPRESSIONS.index("anger")] == pytest.approx(0.5) and p7.sum() == pytest.approx(1.0)


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """The full FER+ import, done once (about 6 s) and copied into each test's output folder."""
    from facebehavior.studies.ferplus import prepare_data

    data_dir = tmp_path_factory.mktemp("ferplus_import") / "data"
    prepare_data(FERPLUS, data_dir, say=lambda *_: None)
    return data_dir


def _out_with_import(imported: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    (out / "data").mkdir(parents=True)
    for name in ("ferplus.csv", "import_report.json"):
        shutil.copy(imported / name, out / "data" / name)
    return out


@needs_ferplus
def test_recipe_end_to_end_on_a_subset_reports_both_protocols(imported, tmp_path, capsys):
    from facebehavior.cli.main import main
    from facebehavior.models.checkpoint import read_meta

    out = _out_with_import(imported, tmp_path)
    args = ["recipe", "ferplus", "--data", str(FERPLUS), "--out", str(out), "--subset", "150"]
    assert main(args + [a for o in QUICK for a in ("--set", o)]) == 0
    results = json.loads((out / "results.json").read_text())
    for name, size in (("ferplus8", 8), ("expr7", 7)):
        m = results["protocols"][name]
        assert 100 <= m["n_majority"] <= 150 and 0.0 <= m["accuracy"] <= 1.0
        assert np.array(m["confusion"]).shape == (size, size) and np.array(m["confusion"]).sum() == m["n_majority"]
        assert m["n_votes"] >= m["n_majority"]  # images without a majority still have votes
        assert m["vote_cross_entropy"] > m["vote_entropy"] > 0  # Gibbs: no model beats the votes themselves
        assert (out / "figures" / f"confusion_{name}.png").stat().st_size > 1000
    meta = read_meta(out / "train" / "checkpoints" / "best")
    assert {t["name"]: tuple(t["labels"]) for t in meta.tasks} == {"ferplus8": FERPLUS8, "expr": EXPRESSIONS}
    assert meta.trained_tasks == ["ferplus8", "expr"]
    assert results["run"]["mode"] == "soft" and "--subset 150" in results["run"]["command"]
    assert "ferplus8" in (out / "report.md").read_text() and "accuracy" in capsys.readouterr().out
    train_rows = pd.read_csv(out / "data" / "ferplus_subset150.csv").query("split == 'train'")
    assert len(train_rows) == 150 and train_rows["ferplus8_soft_neutral"].notna().all()

    # An existing run is never overwritten silently; --resume on a finished run only re-evaluates.
    from facebehavior.studies.ferplus import run_recipe

    with pytest.raises(FaceBehaviorError, match="--resume"):
        run_recipe(FERPLUS, out, subset=150, overrides=QUICK, say=lambda *_: None)
    again = run_recipe(FERPLUS, out, subset=150, overrides=QUICK, resume=True, say=lambda *_: None)
    assert again["protocols"]["ferplus8"]["accuracy"] == results["protocols"]["ferplus8"]["accuracy"]
    timing = json.loads((out / "timing.json").read_text())
    assert len(timing["sessions"]) == 2 and timing["total_seconds"] >= timing["sessions"][0]["seconds"]
    with pytest.raises(FaceBehaviorError, match="model.preset"):
        run_recipe(FERPLUS, out, subset=150, overrides=QUICK + ["model.preset=small"], resume=True,
                   say=lambda *_: None)


@needs_ferplus
def test_majority_mode_trains_on_hard_labels_only(imported, tmp_path):
    from facebehavior.config import load_config
    from facebehavior.studies.ferplus import run_recipe

    out = _out_with_import(imported, tmp_path)
    results = run_recipe(FERPLUS, out, mode="majority", subset=120, overrides=QUICK, say=lambda *_: None)
    cfg = load_config(out / "train" / "config.yaml")
    train_manifest = pd.read_csv(cfg.data.train[0])
    assert not [c for c in train_manifest.columns if "_soft_" in c] and "ferplus8" in train_manifest
    assert cfg.data.val == cfg.data.train  # validation on majority labels too
    assert results["run"]["mode"] == "majority"
    assert np.isfinite(results["protocols"]["ferplus8"]["vote_cross_entropy"])  # test votes still read


def test_configs_declare_both_heads_and_the_gpu_one_is_bigger():
    from facebehavior.config import load_config

    cpu, gpu = load_config(REPO / "configs" / "ferplus.yaml"), load_config(REPO / "configs" / "ferplus_gpu.yaml")
    for cfg in (cpu, gpu):
        assert [t.name for t in cfg.tasks] == ["ferplus8", "expr"]
        assert cfg.train.select_metric == "ferplus/ferplus8/accuracy"
    assert gpu.train.amp == "bf16" and gpu.train.epochs > cpu.train.epochs


def test_unknown_mode_and_missing_heads_are_config_errors(tmp_path):
    from facebehavior.studies.ferplus import RecipeData, build_config

    data = RecipeData(tmp_path / "a.csv", tmp_path / "b.csv")
    with pytest.raises(ConfigError, match="mode"):
        build_config(REPO / "configs" / "ferplus.yaml", tmp_path, data, "probability")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntasks:\n  - {name: expr, kind: multiclass, labels: '@expressions'}\n")
    with pytest.raises(ConfigError, match="ferplus8"):
        build_config(bad, tmp_path, data, "soft")


@needs_ferplus
def test_distillation_blends_votes_with_the_teachers_predictions(imported, tmp_path):
    from facebehavior.studies.distill import teacher_probabilities
    from facebehavior.studies.ferplus import run_recipe

    teacher = run_recipe(FERPLUS, _out_with_import(imported, tmp_path / "t"), subset=60, overrides=QUICK,
                         say=lambda *_: None)["run"]["checkpoint"]
    out = _out_with_import(imported, tmp_path / "s")
    results = run_recipe(FERPLUS, out, subset=60, overrides=QUICK, teachers=[teacher], distill_alpha=0.25,
                         say=lambda *_: None)
    assert results["run"]["teachers"] == {"checkpoints": [teacher], "alpha": 0.25}
    plain = pd.read_csv(out / "data" / "ferplus_subset60.csv")
    distilled = pd.read_csv(out / "data" / "ferplus_subset60_distilled_a0.25.csv")
    train = (plain["split"] == "train").to_numpy()
    paths, probs = teacher_probabilities([teacher], out / "data" / "ferplus_subset60.csv", say=lambda *_: None)
    assert list(paths) == list(plain.loc[train, "path"])
    cols = [c for c in plain.columns if c.startswith("ferplus8_soft_")]
    expected = 0.25 * plain.loc[train, cols].to_numpy() + 0.75 * probs["ferplus8"]
    assert np.abs(distilled.loc[train, cols].to_numpy() - expected).max() < 1e-5
    assert np.allclose(distilled.loc[train, cols].sum(axis=1), 1.0, atol=1e-4)
    pd.testing.assert_frame_equal(distilled.loc[~train], plain.loc[~train])  # valid and test untouched
