"""Protocol registry and per-database evaluation."""

import json

import numpy as np
import pandas as pd
import pytest

from facebehavior.data.manifest import encode_labels, validate_frame
from facebehavior.errors import ConfigError, FaceBehaviorError
from facebehavior.evaluation import (
    evaluate_predictions, protocol_for, register_preset, register_protocol, unregister_protocol,
)
from facebehavior.evaluation.evaluate import confusion_matrices, flatten_results
from facebehavior.evaluation.task_metrics import metric_names
from facebehavior.labels import AU_NAMES, TaskSpec, affect_tasks

NAN = np.nan
TASKS = affect_tasks()


@pytest.fixture
def synth_protocol():
    yield "Synth-A"
    unregister_protocol("Synth-A")


@pytest.mark.parametrize("database,task,kind,primary", [
    ("Aff-Wild2", "va", "regression", "ccc"), ("aff_wild", "va", "regression", "ccc"),
    ("AFEW-VA", "va", "regression", "ccc"), ("AffectNet", "va", "regression", "ccc"),
    ("AffectNet", "expr", "multiclass", "accuracy"), ("RAF-DB", "expr", "multiclass", "mean_diag"),
    ("raf_db", "compound", "multiclass", "mean_diag"), ("EmotioNet", "au", "multilabel", "afa"),
    ("EmotioNet", "expr", "multiclass", "emotionet_expression_score"),
    ("DISFA", "au", "multilabel", "f1"), ("BP4D+", "au", "multilabel", "f1"), ("GFT", "au", "multilabel", "f1"),
    ("CelebA", "identity", "multiclass", "total_accuracy"), ("CelebA", "attributes", "multilabel", "total_accuracy"),
    ("FER+", "expr", "multiclass", "accuracy"),
    ("unknown-db", "expr", "multiclass", "accuracy"), ("unknown-db", "au", "multilabel", "f1"),
    ("unknown-db", "va", "regression", "ccc"),
])
def test_paper_protocols(database, task, kind, primary):
    proto = protocol_for(database, task, kind)
    assert proto.primary == primary and proto.metrics[0] == primary


def test_celeba_and_ferplus_report_their_extra_metrics():
    assert "average_f1" in protocol_for("celeba", "id", "multiclass").metrics
    assert "average_f1" in protocol_for("celeba", "attr", "multilabel").metrics
    assert "per_class_recall" in protocol_for("ferplus", "expr", "multiclass").metrics
    assert "macro_f1" in protocol_for("affectnet", "expr", "multiclass").metrics


def test_register_protocol_forms(synth_protocol):
    register_protocol(synth_protocol, {"expr": ["macro_f1", "accuracy"], "va": ["ccc"],
                                       "au": {"primary": "afa", "metrics": ["f1"]}, "compound": "uar"})
    assert protocol_for("synth_a", "expr", "multiclass").metrics == ("macro_f1", "accuracy")
    assert protocol_for("SYNTH-A", "va", "regression").metrics == ("ccc",)
    assert protocol_for("synth-a", "au", "multilabel").metrics == ("afa", "f1")
    # one name: that primary, plus the kind's defaults
    assert protocol_for("synth-a", "compound", "multiclass").metrics == ("uar", "accuracy", "mean_diag", "macro_f1")
    unregister_protocol(synth_protocol)
    assert protocol_for("synth-a", "va", "regression").metrics == ("ccc", "per_label_ccc")


def test_register_synthface_preset(tmp_path):
    preset = {"databases": [{"name": "synth_rafdb", "metrics": {"expr": "mean_diag"}},
                            {"name": "synth_celeba", "metrics": {"identity": "accuracy", "attributes": "accuracy"}}]}
    (tmp_path / "preset.json").write_text(json.dumps(preset))
    try:
        assert register_preset(tmp_path) == ["synth_rafdb", "synth_celeba"]
        assert protocol_for("synth_rafdb", "expr", "multiclass").primary == "mean_diag"
        attributes = protocol_for("synth_celeba", "attributes", "multilabel")
        assert attributes.primary == "accuracy" and "per_label_f1" in attributes.metrics
    finally:
        unregister_protocol("synth_rafdb")
        unregister_protocol("synth_celeba")
    with pytest.raises(ConfigError, match="databases\\[0\\] needs"):
        register_preset({"databases": [{"name": "x"}]})


@pytest.mark.parametrize("spec,message", [
    ({"expr": "top5"}, "unknown metric"), ({"expr": ["per_class_f1"]}, "per-label"), ({"expr": 3}, "expected"),
])
def test_register_protocol_rejects_bad_specs(synth_protocol, spec, message):
    with pytest.raises(ConfigError, match=message):
        register_protocol(synth_protocol, spec)


def test_metric_of_the_wrong_kind_is_reported(synth_protocol):
    register_protocol(synth_protocol, {"expr": "ccc"})
    with pytest.raises(ConfigError, match="do not apply to a multiclass task"):
        protocol_for(synth_protocol, "expr", "multiclass")
    assert "afa" in metric_names("multilabel") and "afa" not in metric_names("regression")


# ---------------------------------------------------------------- evaluate_predictions

def _frame() -> pd.DataFrame:
    """AffectNet rows carry expr + VA, RAF-DB rows expr, DISFA rows only au1/au2 (au4 only on one row)."""
    rows = [
        # database, expr, valence, arousal, au1, au2, au4
        ("AffectNet", 0, 0.5, 0.1, None, None, None),
        ("AffectNet", 1, -0.5, 0.3, None, None, None),
        ("AffectNet", 1, 0.0, None, None, None, None),
        ("AffectNet", 2, None, None, None, None, None),
        ("RAF-DB", 0, None, None, None, None, None),
        ("RAF-DB", 0, None, None, None, None, None),
        ("RAF-DB", 1, None, None, None, None, None),
        ("DISFA", None, None, None, 1, 0, None),
        ("DISFA", None, None, None, 1, 1, None),
        ("DISFA", None, None, None, 0, 1, None),
        ("DISFA", None, None, None, 0, 0, 1),
    ]
    df = pd.DataFrame(rows, columns=["database", "expr", "valence", "arousal", "au1", "au2", "au4"])
    df["path"] = [f"img{i}.jpg" for i in range(len(df))]
    df["split"] = "test"
    return validate_frame(df, TASKS)


def _preds(n: int) -> dict:
    expr = np.full((n, 7), 0.01)
    for i, c in enumerate([0, 1, 0, 2, 0, 1, 1]):  # AffectNet 3/4 right; RAF-DB rows 0,1 / 0 / 1
        expr[i, c] = 0.9
    va = np.zeros((n, 2))
    va[:3] = [[0.6, 0.2], [-0.4, 0.4], [0.1, 0.0]]  # valence pred = target + 0.1
    au = np.full((n, 17), 0.1)
    au[7:11, 0] = [0.9, 0.2, 0.8, 0.1]  # au1: pred 1,0,1,0 vs 1,1,0,0 -> F1 0.5
    au[7:11, 1] = [0.1, 0.9, 0.9, 0.1]  # au2: pred 0,1,1,0 vs 0,1,1,0 -> F1 1
    au[10, 2] = 0.9  # au4: pred 1 vs 1 -> F1 1
    return {"expr": expr, "au": au, "va": va}


def test_evaluate_splits_by_database_and_task():
    frame = _frame()
    labels = encode_labels(frame, TASKS)
    res = evaluate_predictions(_preds(len(frame)), labels, frame["database"].to_numpy(), TASKS)
    assert list(res) == ["AffectNet", "DISFA", "RAF-DB", "all"]
    assert set(res["AffectNet"]) == {"expr", "va"} and set(res["RAF-DB"]) == {"expr"} and set(res["DISFA"]) == {"au"}

    affectnet = res["AffectNet"]["expr"]
    assert affectnet["primary"] == "accuracy" and affectnet["n"] == 4
    assert affectnet["accuracy"] == pytest.approx(0.75)
    raf = res["RAF-DB"]["expr"]
    # RAF-DB: class 0 rows predicted 0, 1 -> recall 1/2; class 1 -> 1; UAR 3/4, accuracy 2/3
    assert raf["primary"] == "mean_diag" and raf["mean_diag"] == pytest.approx(0.75)
    assert raf["accuracy"] == pytest.approx(2 / 3)
    assert res["all"]["expr"]["n"] == 7 and res["all"]["expr"]["accuracy"] == pytest.approx(5 / 7)

    va = res["AffectNet"]["va"]
    # valence over 3 rows: pred = target + 0.1 -> var 1/6 each, cov 1/6, gap 0.1 -> (1/3)/(1/3 + 0.01)
    assert va["ccc/valence"] == pytest.approx((1 / 3) / (1 / 3 + 0.01))
    assert va["n"] == 3 and va["n_labels"] == 2
    assert va["ccc"] == pytest.approx((va["ccc/valence"] + va["ccc/arousal"]) / 2)


def test_multilabel_uses_only_labels_the_database_annotates():
    frame = _frame()
    labels = encode_labels(frame, TASKS)
    res = evaluate_predictions(_preds(len(frame)), labels, frame["database"].to_numpy(), TASKS)
    au = res["DISFA"]["au"]
    assert au["n_labels"] == 3 and au["n"] == 4
    assert {k for k in au if k.startswith("f1/")} == {"f1/au1", "f1/au2", "f1/au4"}
    assert au["f1/au1"] == pytest.approx(0.5) and au["f1/au2"] == 1.0 and au["f1/au4"] == 1.0
    assert au["f1"] == pytest.approx(2.5 / 3) and au["primary"] == "f1"
    # thresholds per task move the decision: au1 at 0.15 -> pred 1,1,1,0 vs 1,1,0,0 -> 0.8
    thr = np.full(len(AU_NAMES), 0.5)
    thr[0] = 0.15
    res = evaluate_predictions(_preds(len(frame)), labels, frame["database"].to_numpy(), TASKS,
                               thresholds={"au": thr})
    assert res["DISFA"]["au"]["f1/au1"] == pytest.approx(0.8)


def test_protocol_overrides_and_soft_label_fallback():
    task = TaskSpec("expr", "multiclass", ("a", "b", "c"))
    labels = {"expr": np.array([0, -1, 2, -1]),
              "expr_soft": np.array([[NAN] * 3, [0.1, 0.7, 0.2], [NAN] * 3, [NAN] * 3], np.float32)}
    preds = {"expr": np.eye(3)[[0, 1, 1, 2]]}
    res = evaluate_predictions(preds, labels, ["X"] * 4, [task], protocols={"x": {"expr": ["macro_f1"]}})
    values = res["X"]["expr"]
    assert values["n"] == 3 and values["n_target_from_soft"] == 1  # row 3 has no label at all
    assert set(values) == {"macro_f1", "primary", "n", "n_target_from_soft"}
    # targets 0,1,2 vs preds 0,1,1: F1 1, 2/3, 0
    assert values["macro_f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)


def test_bad_inputs_are_reported():
    task = TaskSpec("expr", "multiclass", ("a", "b"))
    labels = {"expr": np.array([0, 1])}
    with pytest.raises(FaceBehaviorError, match="not finite on 1 labelled row"):
        evaluate_predictions({"expr": np.array([[1, 0], [NAN, 0]])}, labels, ["d", "d"], [task])
    with pytest.raises(FaceBehaviorError, match="expected \\(2, 2\\)"):
        evaluate_predictions({"expr": np.zeros((2, 3))}, labels, ["d", "d"], [task])
    with pytest.raises(FaceBehaviorError, match="no predictions for task 'expr'"):
        evaluate_predictions({}, labels, ["d", "d"], [task])
    with pytest.raises(FaceBehaviorError, match="reserved"):
        evaluate_predictions({"expr": np.eye(2)}, labels, ["all", "d"], [task])


def test_confusion_matrices_and_flat_keys():
    frame = _frame()
    labels = encode_labels(frame, TASKS)
    preds = _preds(len(frame))
    cms = confusion_matrices(preds, labels, frame["database"].to_numpy(), TASKS)
    raf = np.array(cms["RAF-DB"]["expr"]["matrix"])
    assert raf.shape == (7, 7) and raf[0, 0] == 1 and raf[0, 1] == 1 and raf[1, 1] == 1 and raf.sum() == 3
    assert "DISFA" not in cms  # no expression labels there
    few = confusion_matrices(preds, labels, frame["database"].to_numpy(), TASKS, max_classes=5)
    assert few["RAF-DB"]["expr"] == {"skipped": "7 classes is more than max_classes=5"}
    flat = flatten_results(evaluate_predictions(preds, labels, frame["database"].to_numpy(), TASKS))
    assert flat["eval/DISFA/au/f1/au1"] == pytest.approx(0.5)
    assert all(isinstance(v, (int, float)) for v in flat.values())
