"""Coupling terms from config: shipped, estimated and mismatched relatedness tables."""

import numpy as np
import pytest

from facebehavior.config import load_config
from facebehavior.errors import ConfigError
from facebehavior.labels import EXPRESSIONS
from facebehavior.relatedness import load_relatedness
from facebehavior.training.coupling_setup import build_couplings

TASKS = [{"name": "expr", "kind": "multiclass", "labels": "@expressions"},
         {"name": "au", "kind": "multilabel", "labels": ["au12", "au6", "au1"]}]


def _cfg(**coupling):
    return load_config(base={"tasks": TASKS, "coupling": [coupling]})


def _labels():
    return {"expr": np.array([4, 4, 5, -1]),
            "au": np.array([[1, 1, 0], [1, 0, np.nan], [0, 1, 1], [1, 1, 1]], np.float32)}


def test_disabled_coupling_builds_nothing():
    cfg = _cfg()
    assert build_couplings(cfg, cfg.task_specs(), _labels()) == ([], [])


def test_shipped_table_is_reindexed_to_the_task_labels():
    cfg = _cfg(distribution_matching={"enabled": True})
    terms, tables = build_couplings(cfg, cfg.task_specs(), _labels())
    assert [t.name for t in terms] == ["expr-au"]
    expected = load_relatedness("du2014").to_frame().loc[list(EXPRESSIONS), ["au12", "au6", "au1"]].to_numpy()
    np.testing.assert_allclose(terms[0].weights.numpy(), expected)
    assert tables[0].cols == ("au12", "au6", "au1")


def test_estimated_table_comes_from_the_training_labels():
    cfg = _cfg(relatedness="estimate", soft_coannotation={"enabled": True})
    terms, tables = build_couplings(cfg, cfg.task_specs(), _labels())
    w = terms[0].weights.numpy()
    np.testing.assert_allclose(w[EXPRESSIONS.index("happiness")], [1.0, 0.5, 0.0])
    np.testing.assert_allclose(w[EXPRESSIONS.index("sadness")], [0.0, 1.0, 1.0])
    assert "estimated" in tables[0].source


def test_table_over_other_labels_is_a_config_error(tmp_path):
    path = tmp_path / "celeba.csv"
    path.write_text("class,Smiling,Male\nid0,1,0\nid1,0,1\n")
    cfg = _cfg(relatedness=str(path), coannotation={"enabled": True})
    with pytest.raises(ConfigError, match="share no label"):
        build_couplings(cfg, cfg.task_specs(), _labels())
