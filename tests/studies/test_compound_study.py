"""The study's compound set and a miniature run of the study."""

from __future__ import annotations

import json

import pandas as pd

from facebehavior.compound.fewshot import FinetuneSettings
from facebehavior.studies.compound import make_study_set, oracle_zero_shot, run_compound_study
from tests.compound.conftest import IMAGE_SIZE


def test_study_set_is_balanced_subject_disjoint_and_cached(tmp_path):
    manifest = make_study_set(tmp_path / "set", per_class_train=2, per_class_test=1, size=IMAGE_SIZE)
    frame = pd.read_csv(manifest)
    counts = frame.groupby("split")["compound"].value_counts()
    assert set(counts["train"]) == {2} and set(counts["test"]) == {1} and len(counts["train"]) == 15
    assert not set(frame.loc[frame.split == "train", "subject"]) & set(frame.loc[frame.split == "test", "subject"])
    stamp = manifest.stat().st_mtime_ns
    assert make_study_set(tmp_path / "set", per_class_train=2, per_class_test=1, size=IMAGE_SIZE) == manifest
    assert manifest.stat().st_mtime_ns == stamp  # reused, not rendered again


def test_oracle_zero_shot_uses_true_aus(synth_dir):
    oracle = oracle_zero_shot(synth_dir / "synth_compound" / "manifest.csv", "du2014", "synthface")
    assert oracle["n"] == 9 and 0 <= oracle["mean_diag"] <= 1


def test_miniature_study_writes_table_plot_and_json(tiny_checkpoint, synth_dir, tmp_path):
    manifest = synth_dir / "synth_compound" / "manifest.csv"  # 6 training rows: classes 0..5, one each
    results = run_compound_study({"tiny": tiny_checkpoint}, manifest, tmp_path / "study",
                                 classes="happily_surprised,happily_disgusted", shots=(1, None), seeds=(0,),
                                 settings=FinetuneSettings(epochs=1, min_steps=1), extra_zero_shot=(),
                                 say=lambda *_: None)
    assert [p["per_class"] for p in results["models"]["tiny"]["few_shot"]] == [1, 1]
    assert len(results["scratch"]) == 2 and "oracle_zero_shot" in results
    diagnostics = results["models"]["tiny"]["diagnostics"]
    assert 0 <= diagnostics["valence_sign_accuracy"] <= 1 and diagnostics["au_auc"]
    saved = json.loads((tmp_path / "study" / "compound_study.json").read_text())
    assert saved["classes"] == ["happily_surprised", "happily_disgusted"]
    table = (tmp_path / "study" / "compound_study.md").read_text()
    assert "| zero-shot, tiny |" in table and "| from scratch |" in table
    assert (tmp_path / "study" / "compound_study.png").stat().st_size > 1000


def test_welch_lines_compare_each_model_with_scratch_and_the_models_with_each_other():
    from scipy import stats

    from facebehavior.studies.compound import welch_lines

    def points(*seeds):
        return [{"shots": 5, "per_class": 5, "per_seed": list(seeds)}]

    results = {"models": {"coupling": {"few_shot": points(0.30, 0.32, 0.31)},
                          "no_coupling": {"few_shot": points(0.20, 0.22, 0.25)}},
               "scratch": points(0.10, 0.12, 0.09)}
    lines = welch_lines(results)
    assert [line.split(",")[0] for line in lines] == ["- coupling vs from scratch", "- no_coupling vs from scratch",
                                                     "- coupling vs no_coupling"]
    p = stats.ttest_ind([0.30, 0.32, 0.31], [0.20, 0.22, 0.25], equal_var=False).pvalue
    assert f"k=5: +0.087 (p={p:.3f})" in lines[2]
