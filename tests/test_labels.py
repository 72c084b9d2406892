"""Label spaces and task declarations."""

import pytest

from facebehavior.labels import (
    AU_NAMES,
    AUS,
    CELEBA_ATTRIBUTES,
    EXPRESSIONS,
    TaskSpec,
    affect_tasks,
    resolve_labels,
)


def test_canonical_label_spaces():
    assert EXPRESSIONS == ("neutral", "anger", "disgust", "fear", "happiness", "sadness", "surprise")
    assert AUS == (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 24, 25, 26)
    assert AU_NAMES[0] == "au1" and AU_NAMES[-1] == "au26" and len(AU_NAMES) == 17
    assert len(CELEBA_ATTRIBUTES) == 40 and len(set(CELEBA_ATTRIBUTES)) == 40
    assert CELEBA_ATTRIBUTES[31] == "Smiling"


def test_affect_tasks_columns_and_defaults():
    expr, au, va = affect_tasks(weights=(1.0, 2.0, 3.0))
    assert (expr.kind, expr.loss, expr.size, expr.weight) == ("multiclass", "cross_entropy", 7, 1.0)
    assert expr.columns == ("expr",)
    assert expr.soft_columns[0] == "expr_soft_neutral" and len(expr.soft_columns) == 7
    assert (au.loss, au.size, au.columns, au.soft_columns) == ("bce", 17, AU_NAMES, ())
    assert (va.loss, va.columns, va.weight, va.extra["range"]) == ("ccc", ("valence", "arousal"), 3.0, (-1.0, 1.0))


@pytest.mark.parametrize("kwargs, match", [
    ({"kind": "ranking", "labels": ("a",)}, "kind"),
    ({"kind": "multiclass", "labels": ()}, "at least one label"),
    ({"kind": "multiclass", "labels": ("a", "a")}, "repeat"),
    ({"kind": "multilabel", "labels": ("a",), "loss": "ccc"}, "does not fit"),
])
def test_taskspec_rejects_bad_declarations(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TaskSpec("t", **kwargs)


def test_resolve_labels_forms():
    assert resolve_labels("@expressions") == EXPRESSIONS
    assert resolve_labels(["x", 2]) == ("x", "2")
    assert resolve_labels({"count": 2}) == ("class0", "class1")
    with pytest.raises(ValueError, match="@expressions"):
        resolve_labels("expressions")
