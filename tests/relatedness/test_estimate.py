

def test_estimate_from_labels_counts_the_rows_it_rests_on_and_refuses_none():
    import numpy as np
    import pytest

    from facebehavior.errors import FaceBehaviorError
    from facebehavior.relatedness.estimate import estimate_from_labels

    classes = np.array([0, 0, 1, -1])
    labels = np.array([[1, 0], [1, np.nan], [np.nan, np.nan], [1, 1]], float)
    est = estimate_from_labels(classes, labels, ("a", "b"), ("x", "y"))
    assert (est.rows_used, est.rows_total, est.thin_entries) == (2, 4, 2)
    assert est.table.weights[0, 0] == 1.0 and est.table.weights[0, 1] == 0.0
    with pytest.raises(FaceBehaviorError, match="no row carries both 'A' and 'B'"):
        estimate_from_labels(np.array([-1]), np.array([[1.0, 0.0]]), ("a",), ("x", "y"))


def test_class_subjects_only_when_one_to_one():
    import numpy as np

    from facebehavior.relatedness.estimate import class_subjects

    assert class_subjects(np.array([0, 1, 0]), np.array([2880.0, 12.0, 2880.0]), ("c0", "c1")) == \
        {"c0": "2880", "c1": "12"}
    assert class_subjects(np.array([0, 1]), np.array(["p", "p"]), ("c0", "c1")) == {}
