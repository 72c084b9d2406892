"""Every plot writes a real, non-blank PNG; figures regenerate from a run's files."""

import json

import numpy as np
import pytest
from PIL import Image

from facebehavior.errors import FaceBehaviorError
from facebehavior.evaluation import plots
from facebehavior.evaluation.report import write_report


def _assert_png(path, min_size=(200, 150)):
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size[0] >= min_size[0] and im.size[1] >= min_size[1]
        pixels = np.asarray(im.convert("L"))
    assert pixels.std() > 5  # something was drawn, not a blank canvas


def _write_log(path):
    lines = []
    for step in range(0, 500, 50):
        lines.append({"step": step, "epoch": step // 250, "loss/total": 3.0 / (1 + step / 100),
                      "loss/expr": 1.5 / (1 + step / 100), "loss/au": 0.7, "loss/distr_matching": 0.2})
        if step % 200 == 0:
            lines.append({"step": step, "eval/AffectNet/va/ccc": 0.3 + step / 1000,
                          "eval/AffectNet/expr/accuracy": 0.4 + step / 2000, "eval/DISFA/au/f1": 0.3,
                          "eval/DISFA/au/f1/au1": 0.2, "eval/DISFA/au/n": 400})
    text = "\n".join(json.dumps(r) for r in lines) + '\n{"step": 500, "loss/to'  # killed mid-write
    path.write_text(text)


def test_training_curves(tmp_path):
    log = tmp_path / "train.jsonl"
    _write_log(log)
    out = plots.plot_training_curves(log, tmp_path / "curves.png")
    assert out["records"] == 13 and len(out["skipped"]) == 1 and out["skipped"][0].startswith("line 14")
    _assert_png(out["path"], (600, 300))
    assert out["series"] == ["eval/AffectNet/va/ccc", "eval/AffectNet/expr/accuracy", "eval/DISFA/au/f1"]


def test_training_curves_without_values_is_an_error(tmp_path):
    log = tmp_path / "train.jsonl"
    log.write_text('{"step": 1, "lr": 0.1}\n')
    with pytest.raises(FaceBehaviorError, match="no 'loss/...'"):
        plots.plot_training_curves(log, tmp_path / "x.png")


def test_per_label_confusion_and_scatter(tmp_path):
    results = {"DISFA": {"au": {"f1": 0.5, "f1/au1": 0.3, "f1/au2": 0.7, "f1/au4": 0.5, "primary": "f1", "n": 9}}}
    _assert_png(plots.plot_per_label_f1(results, "DISFA", "au", tmp_path / "f1.png"))
    with pytest.raises(FaceBehaviorError, match="no results"):
        plots.plot_per_label_f1(results, "BP4D", "au", tmp_path / "no.png")

    cm = np.array([[50, 3, 2], [10, 30, 0], [1, 1, 40]])
    _assert_png(plots.plot_confusion(cm, ["neutral", "anger", "disgust"], tmp_path / "cm.png"))
    with pytest.raises(FaceBehaviorError, match="does not fit"):
        plots.plot_confusion(cm, ["a", "b"], tmp_path / "bad.png")

    rng = np.random.default_rng(0)
    target = rng.uniform(-1, 1, (300, 2))
    pred = np.clip(target * 0.7 + rng.normal(0, 0.2, target.shape), -1, 1)
    target[:5, 1] = np.nan
    _assert_png(plots.plot_va_scatter(pred, target, tmp_path / "va.png"))


def test_figures_regenerate_from_metrics_json(tmp_path):
    results = {"DISFA": {"au": {"f1": 0.5, "f1/au1": 0.3, "f1/au2": 0.7, "primary": "f1", "n": 9}},
               "AffectNet": {"va": {"ccc": 0.1, "ccc/valence": -0.2, "ccc/arousal": 0.4, "primary": "ccc", "n": 5}}}
    extra = {"confusion": {"RAF-DB": {"expr": {"labels": ["a", "b"], "matrix": [[3, 1], [0, 4]]}},
                           "CelebA": {"identity": {"skipped": "too many classes"}}}}
    write_report(results, tmp_path, "run", extra)
    written = plots.figures_from_metrics(tmp_path / "metrics.json", tmp_path / "figures")
    assert sorted(p.name for p in written) == ["AffectNet_va_ccc.png", "DISFA_au_f1.png", "RAF-DB_expr_confusion.png"]
    for path in written:
        _assert_png(path)
