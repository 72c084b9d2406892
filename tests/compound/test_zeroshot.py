"""Eq. 8 against hand computations, class sets, the valence term, AU 11, evidence and explanations."""

from __future__ import annotations

import numpy as np
import pytest

from facebehavior.compound import compound_columns, explain, resolve_classes, zero_shot_scores
from facebehavior.compound.classes import du_compound_names
from facebehavior.data.importers.labelspaces import EMOTIONET_CATEGORIES, RAFDB_COMPOUND
from facebehavior.errors import ConfigError, FaceBehaviorError
from facebehavior.labels import AU_NAMES, EXPRESSIONS

E = {e: i for i, e in enumerate(EXPRESSIONS)}
A = {a: i for i, a in enumerate(AU_NAMES)}


def outputs(n=1, au=None, expr=None, valence=0.5):
    """One-row outputs: AU probabilities 0.1 unless given, expression probabilities uniform unless given."""
    au_p = np.full((n, 17), 0.1)
    for name, p in (au or {}).items():
        au_p[:, A[name]] = p
    ex = np.full((n, 7), 1 / 7)
    if expr:
        ex[:] = 0.0
        for name, p in expr.items():
            ex[:, E[name]] = p
    return {"expr": ex, "au": au_p, "va": np.tile([valence, 0.0], (n, 1))}


def test_happily_surprised_matches_a_hand_computation():
    # Du et al.: happily surprised = prototypical 1, 2, 12, 25; observational 5 (0.64), 26 (0.67).
    au = {"au1": 0.9, "au2": 0.8, "au12": 0.7, "au25": 0.6, "au5": 0.5, "au26": 0.4}
    probs = outputs(au=au, expr={"happiness": 0.5, "surprise": 0.3, "neutral": 0.2}, valence=0.2)
    scores, ev = zero_shot_scores(probs, "happily_surprised,sadly_angry")
    i_au = (0.9 + 0.8 + 0.7 + 0.6 + 0.5 + 0.4) / 6
    assert scores[0, 0] == pytest.approx(i_au + (0.5 + 0.3) + 1.0)
    assert ev.i_au[0, 0] == pytest.approx(i_au) and ev.f_emo[0, 0] == pytest.approx(0.8) and ev.d_va[0, 0] == 1
    # sadly angry: AUs 4, 15, 6, 7, 17 (AU 11 dropped), all at 0.1; emotions sadness + anger = 0; no D term
    assert scores[0, 1] == pytest.approx(0.1)


def test_weighted_variant_weights_observational_aus():
    au = {"au1": 0.9, "au2": 0.8, "au12": 0.7, "au25": 0.6, "au5": 0.5, "au26": 0.4}
    probs = outputs(au=au, expr={"neutral": 1.0}, valence=-0.5)
    _, ev = zero_shot_scores(probs, "happily_surprised", au_weighting="weighted")
    expected = (0.9 + 0.8 + 0.7 + 0.6 + 0.64 * 0.5 + 0.67 * 0.4) / (4 + 0.64 + 0.67)
    assert ev.i_au[0, 0] == pytest.approx(expected)
    with pytest.raises(ConfigError, match="weighting"):
        zero_shot_scores(probs, "happily_surprised", au_weighting="soft")


def test_valence_term_only_for_the_two_happy_compound_classes():
    cs = resolve_classes("du2014")
    assert [n for n, v in zip(cs.names, cs.valence_term) if v] == ["happily_surprised", "happily_disgusted"]
    pos, neg = outputs(valence=0.3), outputs(valence=-0.3)
    diff = zero_shot_scores(pos, "du2014")[0] - zero_shot_scores(neg, "du2014")[0]
    assert diff[0].tolist() == [1.0 if v else 0.0 for v in cs.valence_term]
    zero = outputs(valence=0.0)  # D_va needs valence > 0, not >= 0
    assert zero_shot_scores(zero, "du2014")[1].d_va.sum() == 0


def test_au11_is_dropped_and_said_so():
    cs = resolve_classes("sadly_angry")
    assert cs.au_weights.shape == (1, 17)
    assert sorted(AU_NAMES[j] for j in np.flatnonzero(cs.au_weights[0])) == ["au15", "au17", "au4", "au6", "au7"]
    assert any("AU 11" in note and "sadly_angry" in note for note in cs.notes)
    _, ev = zero_shot_scores(outputs(), "sadly_angry")
    assert any("AU 11" in note for note in ev.notes)


def test_rafdb_order_and_named_sets():
    assert resolve_classes("rafdb").names == RAFDB_COMPOUND
    assert RAFDB_COMPOUND[0] == "happily_surprised" and RAFDB_COMPOUND[-1] == "disgustedly_surprised"
    assert resolve_classes("du2014").names == du_compound_names() and len(du_compound_names()) == 15
    assert resolve_classes("synthface").names == du_compound_names()


def test_emotionet_set_scores_basic_classes_on_the_same_scale():
    cs = resolve_classes("emotionet")
    assert cs.names == EMOTIONET_CATEGORIES
    assert cs.kinds[:6] == ("basic",) * 6 and set(cs.kinds[6:]) == {"compound"}
    # happiness: AUs 12, 25, 6 (Du basic row); F = 2 p(happiness); valence term as the happy compounds
    probs = outputs(au={"au12": 0.9, "au25": 0.6, "au6": 0.3}, expr={"happiness": 0.7, "neutral": 0.3}, valence=0.4)
    scores, ev = zero_shot_scores(probs, cs)
    h = cs.names.index("happiness")
    assert scores[0, h] == pytest.approx((0.9 + 0.6 + 0.3) / 3 + 2 * 0.7 + 1.0)
    assert cs.valence_term[h] and not cs.valence_term[cs.names.index("surprise")]
    assert scores[0].argmax() == h
    # a pure basic emotion and a compound of two equally probable components score F_emo alike
    both = outputs(expr={"happiness": 0.5, "surprise": 0.5})
    _, ev = zero_shot_scores(both, "happiness,surprise,happily_surprised")
    assert ev.f_emo[0].tolist() == pytest.approx([1.0, 1.0, 1.0])


def test_user_class_list_keeps_its_order_and_rejects_unknown_rows():
    cs = resolve_classes("sadly_angry, happily_surprised,awed")
    assert cs.names == ("sadly_angry", "happily_surprised", "awed")
    with pytest.raises(ConfigError, match="not rows of the du2014 table"):
        resolve_classes("happily_surprised,grumpy")
    with pytest.raises(ConfigError, match="more than once"):
        resolve_classes("awed,awed")


def test_scores_are_vectorised_over_the_batch():
    rng = np.random.default_rng(0)
    n = 50
    probs = {"expr": rng.dirichlet(np.ones(7), n), "au": rng.random((n, 17)), "va": rng.uniform(-1, 1, (n, 2))}
    batch, _ = zero_shot_scores(probs, "rafdb")
    rows = np.concatenate([zero_shot_scores({k: v[i:i + 1] for k, v in probs.items()}, "rafdb")[0]
                           for i in range(n)])
    np.testing.assert_allclose(batch, rows)
    assert batch.shape == (n, 11)


def test_explain_names_the_supporting_aus_emotions_and_valence():
    au = {"au12": 0.95, "au10": 0.9, "au25": 0.2, "au9": 0.6, "au6": 0.7, "au4": 0.1}
    probs = outputs(au=au, expr={"happiness": 0.6, "disgust": 0.35, "neutral": 0.05}, valence=0.5)
    [e] = explain(probs, "rafdb", top_aus=3)
    assert e["compound"] == "happily_disgusted"
    assert [a["au"] for a in e["aus"]] == ["au12", "au10", "au6"]  # 10, 12, 25 + 4, 6, 9 (equal weights)
    assert e["aus"][0]["probability"] == pytest.approx(0.95) and e["aus"][0]["table_weight"] == 1.0
    assert e["aus"][2]["table_weight"] == pytest.approx(0.61)
    assert e["emotions"] == pytest.approx({"happiness": 0.6, "disgust": 0.35})
    assert e["valence"] == pytest.approx(0.5) and e["valence_term"] == 1
    assert e["score"] == pytest.approx(sum(v for v in e["terms"].values()))
    [other] = explain(outputs(expr={"sadness": 0.5, "anger": 0.5}, valence=-0.4), "rafdb")
    assert other["compound"] == "sadly_angry" and other["terms"]["d_va"] is None and other["valence_term"] is None


def test_missing_valence_output_is_noted_and_wrong_shapes_are_errors():
    probs = outputs()
    del probs["va"]
    _, ev = zero_shot_scores(probs, "rafdb")
    assert ev.d_va.sum() == 0 and any("no 'va' output" in n for n in ev.notes)
    with pytest.raises(FaceBehaviorError, match="'au' has shape"):
        zero_shot_scores({"expr": np.ones((2, 7)) / 7, "au": np.ones((2, 12))}, "rafdb")
    with pytest.raises(FaceBehaviorError, match="need the model's 'expr'"):
        zero_shot_scores({"au": np.ones((2, 17))}, "rafdb")


def test_outputs_in_another_label_order_are_reordered_by_name():
    from facebehavior.labels import TaskSpec

    probs = outputs(au={"au12": 0.9}, expr={"happiness": 1.0})
    order = list(reversed(range(7)))
    shuffled = dict(probs, expr=probs["expr"][:, order])
    tasks = [TaskSpec("expr", "multiclass", tuple(EXPRESSIONS[i] for i in order))]
    np.testing.assert_allclose(zero_shot_scores(shuffled, "rafdb", tasks=tasks)[0], zero_shot_scores(probs, "rafdb")[0])


def test_compound_columns_for_analyze_output():
    sad = outputs(expr={"sadness": 0.5, "anger": 0.5}, valence=-0.4)
    happy = outputs(au={"au1": 1, "au2": 1, "au12": 1, "au25": 1}, expr={"happiness": 0.5, "surprise": 0.5})
    probs = {k: np.concatenate([sad[k], happy[k]]) for k in sad}
    frame = compound_columns(probs, "rafdb")
    assert list(frame.columns) == ["compound", "compound_score"]
    assert frame["compound"].tolist() == ["sadly_angry", "happily_surprised"]
    assert frame["compound_score"].iloc[1] == pytest.approx(zero_shot_scores(probs, "rafdb")[0][1].max())
    empty = compound_columns({k: v[:0] for k, v in probs.items()})
    assert len(empty) == 0 and list(empty.columns) == ["compound", "compound_score"]
