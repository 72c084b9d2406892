import numpy as np
import pandas as pd

from facebehavior.inference import columns as C
from facebehavior.labels import affect_tasks


def test_schema_names_the_documented_columns():
    names = list(C.schema(affect_tasks()))
    for col in ("source", "frame", "timestamp", "face_index", "track_id", "status", "box_x", "left_eye_x",
                "mouth_right_y", "det_score", "expr_happiness", "expr_top", "au12", "au12_on", "au26_on",
                "valence", "arousal", "untrained_heads", "untrained_labels"):
        assert col in names
    assert len(names) == len(set(names))
    assert names[-2:] == ["untrained_heads", "untrained_labels"]


def test_untrained_labels_are_blanked_and_named():
    expr, au, va = affect_tasks()
    probs = np.full((2, 17), 0.9)
    shown = C.blank_labels(au, probs, ["au9", "au26"])
    assert np.isnan(shown[:, [6, 16]]).all() and (np.delete(shown, [6, 16], 1) == 0.9).all()
    assert (probs == 0.9).all()  # the network's array is left alone
    cols = C.task_frame(au, shown, np.full(17, 0.5), 2)
    assert pd.isna(cols["au9_on"]).all() and cols["au12_on"].all()  # one blank label leaves the others decided
    assert not np.isnan(C.blank_labels(expr, np.full((1, 7), 1 / 7), ["disgust"])).any()  # softmax kept whole
    named = C.untrained_label_columns([expr, au, va], {"expr": ["disgust"], "au": ["au9"], "va": ["arousal"]})
    assert named == "expr_disgust,au9,arousal"


def test_task_frame_leaves_faceless_rows_empty():
    expr, au, _ = affect_tasks()
    values = np.array([[0.1, 0.1, 0.1, 0.1, 0.5, 0.05, 0.05], [np.nan] * 7])
    cols = C.task_frame(expr, values, None, 2)
    assert list(cols["expr_top"]) == ["happiness", pd.NA]
    probs = np.vstack([np.linspace(0, 1, 17), np.full(17, np.nan)])
    cols = C.task_frame(au, probs, np.full(17, 0.5), 2)
    assert not cols["au1_on"][0]
    assert bool(cols["au26_on"][0]) and pd.isna(cols["au26_on"][1])


def test_untrained_task_is_null_not_numbers():
    cols = C.task_frame(affect_tasks()[2], None, None, 3)
    assert pd.isna(cols["valence"]).all() and pd.isna(cols["arousal"]).all()


def test_thresholds_per_label_or_default():
    au = affect_tasks()[1]
    assert (C.thresholds_for(au, {}) == 0.5).all()
    tuned = list(np.linspace(0.1, 0.9, 17))
    assert np.allclose(C.thresholds_for(au, {"au": tuned}), tuned)


def test_coerce_reads_csv_text_back_to_types():
    text = pd.DataFrame({"source": ["a"], "frame": ["3"], "au1_on": ["True"], "au1": ["0.25"], "extra": ["x"]})
    out = C.coerce(text, {"source": "string", "frame": "Int64", "au1": "float64", "au1_on": "boolean",
                          "valence": "float64"})
    assert list(out.columns) == ["source", "frame", "au1", "au1_on", "valence"]
    assert out["frame"].iloc[0] == 3 and out["au1"].iloc[0] == 0.25 and out["au1_on"].iloc[0]
    assert pd.isna(out["valence"].iloc[0])
