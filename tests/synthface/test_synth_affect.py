"""The affect process: AU and VA statistics match the generating tables (sampling only)."""

import numpy as np
import pytest

from facebehavior.synthface import COMPOUND_CLASSES, VA_CENTROIDS
from facebehavior.synthface.affect import (
    PROTOTYPICAL_PROB,
    SPURIOUS_RATE,
    compound_table,
    expression_au_probabilities,
    sample_compounds,
    sample_expressions,
)
from facebehavior.synthface.draws import Draws, stream_key
from facebehavior.synthface.presets import preset_databases
from facebehavior.synthface.sample import make_sample
from facebehavior.labels import AUS, EXPRESSIONS
from facebehavior.relatedness import load_category_rows

DRAWS = 4000


def _expected(p_table):
    """An AU is on if the table fires it or it fires spuriously."""
    return p_table + (1 - p_table) * SPURIOUS_RATE


def _within_error(observed, expected, n):
    # 4.5 standard errors: a false alarm in ~1 of 150,000 comparisons
    return np.abs(observed - expected) <= 4.5 * np.sqrt(expected * (1 - expected) / n) + 1e-9


def _draws(n: int, seed: int) -> Draws:
    return Draws(stream_key(seed), np.arange(n))


def _draw(expr: int, n: int = DRAWS, seed: int = 0):
    return sample_expressions(np.full(n, expr), _draws(n, seed))


def test_table_is_the_affwild2_empirical_one():
    probs = expression_au_probabilities()
    happy = probs[EXPRESSIONS.index("happiness")]
    assert happy[AUS.index(12)] == pytest.approx(0.82)
    assert happy[AUS.index(7)] == pytest.approx(0.83)
    assert not probs[EXPRESSIONS.index("neutral")].any()
    rows = {r.name: r.weights() for r in load_category_rows("affwild2_empirical")}
    for e, row in rows.items():
        for au, w in row.items():
            assert probs[EXPRESSIONS.index(e), AUS.index(au)] == pytest.approx(w)


def test_p_au12_given_happiness_matches_table():
    on = np.mean(_draw(EXPRESSIONS.index("happiness")).aus[:, AUS.index(12)] > 0)
    assert on == pytest.approx(_expected(0.82), abs=0.03)


@pytest.mark.parametrize("expr", range(len(EXPRESSIONS)))
def test_au_frequencies_match_table_for_every_expression(expr):
    observed = np.mean(_draw(expr, seed=expr).aus > 0, axis=0)
    expected = _expected(expression_au_probabilities()[expr])
    bad = ~_within_error(observed, expected, DRAWS)
    assert not bad.any(), [(AUS[j], observed[j], expected[j]) for j in np.flatnonzero(bad)]


def test_intensities_and_strength():
    samples = _draw(EXPRESSIONS.index("surprise"), 500)
    aus = samples.aus
    assert aus.min() >= 0 and aus.max() <= 1 and aus[aus > 0].min() >= 0.15
    assert ((0.3 <= samples.strength) & (samples.strength <= 1)).all()
    assert (_draw(EXPRESSIONS.index("neutral"), 50).strength == 0).all()


def test_va_follows_expression_centroids_with_noise():
    for name, (cv, ca) in VA_CENTROIDS.items():
        samples = _draw(EXPRESSIONS.index(name), 1500)
        va = np.stack([samples.valence, samples.arousal], axis=1)
        assert np.all(np.abs(va) <= 1)
        reach = np.mean(0.4 + 0.6 * samples.strength)
        assert va.mean(0) == pytest.approx((cv * reach, ca * reach), abs=0.04)
        assert 0.1 < va.std(0).min()  # noisy, not a function of the expression
    happy = _draw(EXPRESSIONS.index("happiness"), 1500)
    assert np.corrcoef(happy.strength, happy.valence)[0, 1] > 0.3


def test_compound_classes_are_du_compound_rows_in_order():
    names = [r.name for r in load_category_rows("du2014") if r.kind == "compound"]
    assert list(COMPOUND_CLASSES) == names and len(names) == 15


def test_compound_aus_follow_prototypical_and_observational_rows():
    rows = {r.name: r for r in load_category_rows("du2014") if r.kind == "compound"}
    k = COMPOUND_CLASSES.index("sadly_disgusted")
    observed = np.mean(sample_compounds(np.full(DRAWS, k), _draws(DRAWS, 1)).aus > 0, axis=0)
    row = rows["sadly_disgusted"]
    expected = np.full(len(AUS), 0.0)
    for au, w in row.observational.items():
        if au in AUS:  # AU 11 is outside the 17
            expected[AUS.index(au)] = w
    for au in row.prototypical:
        expected[AUS.index(au)] = PROTOTYPICAL_PROB
    assert _within_error(observed, _expected(expected), DRAWS).all()
    assert len(compound_table()) == len(COMPOUND_CLASSES)


def test_compound_valence_sign_follows_components():
    for seed, name in enumerate(("happily_surprised", "sadly_angry", "fearfully_disgusted")):
        k = COMPOUND_CLASSES.index(name)
        v = np.mean(sample_compounds(np.full(400, k), _draws(400, seed)).valence)
        assert (v > 0) == name.startswith("happily_surprised")


def test_database_expression_mix_and_au_only_labels_come_from_the_same_process():
    disfa = next(db for db in preset_databases("affect") if db.name == "synth_disfa")
    samples = [make_sample(disfa, 0, i) for i in range(2000)]
    exprs = np.bincount([s.affect.expr for s in samples], minlength=len(EXPRESSIONS)) / len(samples)
    assert _within_error(exprs, np.array(disfa.prior), len(samples)).all()
    # an AU-only database's AU rate is the prior-weighted mix of the expression rows
    expected = _expected(np.array(disfa.prior) @ expression_au_probabilities())
    observed = np.mean([s.affect.aus > 0 for s in samples], axis=0)
    assert _within_error(observed, expected, len(samples)).all()
