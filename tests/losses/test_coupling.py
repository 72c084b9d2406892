"""Coupling losses against the paper's equations (3–7) and co-annotation (section 3.1.2)."""

import math

import pytest
import torch

from facebehavior.labels import AU_NAMES, EXPRESSIONS
from facebehavior.losses import (
    coannotate,
    distribution_matching,
    indicator_scores,
    masked_bce,
    soft_coannotation,
    soft_coannotation_target,
)
from facebehavior.relatedness import load_relatedness

NAN = float("nan")
E = {n: i for i, n in enumerate(EXPRESSIONS)}
A = {n: j for j, n in enumerate(AU_NAMES)}
# Toy R: class 0 → b0 (prototypical), class 1 → b0 (observational 0.5) and b1, class 2 → nothing.
TOY_R = torch.tensor([[1.0, 0.0], [0.5, 1.0], [0.0, 0.0]])


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _du2014(mode: str) -> torch.Tensor:
    return torch.from_numpy(load_relatedness("du2014").matrix(mode))


# ---------------------------------------------------------------- distribution matching (eq. 3–4)

def test_eq3_du2014_binary_q_au2_is_p_surprise_plus_p_fear():
    torch.manual_seed(0)
    logits_a = torch.randn(5, 7)
    logits_b = torch.full((5, 17), -50.0)
    logits_b[:, A["au2"]] = 50.0  # p(AU2) = 1, all others 0: the loss is −log q(AU2)
    p = torch.softmax(logits_a, 1)
    q_au2 = p[:, E["surprise"]] + p[:, E["fear"]]
    expected = (-torch.log(q_au2)).mean()
    got = distribution_matching(logits_a, logits_b, _du2014("binary"), form="paper")
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)


def test_eq3_happiness_certain_activates_au12_au25_au6_in_q():
    logits_a = torch.full((1, 7), -60.0)
    logits_a[0, E["happiness"]] = 60.0
    for au in ("au12", "au25", "au6"):
        logits_b = torch.full((1, 17), -60.0)
        logits_b[0, A[au]] = 60.0
        # q(au) = 1 → −1·log 1 = 0 (up to the clamp)
        assert distribution_matching(logits_a, logits_b, _du2014("binary"), "paper").item() < 1e-5
    logits_b = torch.full((1, 17), -60.0)
    logits_b[0, A["au1"]] = 60.0  # q(AU1) = 0: clamped, large but finite
    value = distribution_matching(logits_a, logits_b, _du2014("binary"), "paper").item()
    assert math.isfinite(value) and value == pytest.approx(-math.log(1e-6), rel=1e-3)


def _toy_dm_inputs():
    logits_a = torch.log(torch.tensor([[0.2, 0.3, 0.5]]))
    logits_b = torch.tensor([[_logit(0.6), _logit(0.1)]])
    return logits_a, logits_b  # q = [0.2·1 + 0.3·0.5, 0.3·1] = [0.35, 0.3]


def test_eq4_paper_form_on_toy_example():
    logits_a, logits_b = _toy_dm_inputs()
    expected = -(0.6 * math.log(0.35) + 0.1 * math.log(0.3))
    assert distribution_matching(logits_a, logits_b, TOY_R, "paper").item() == pytest.approx(expected, rel=1e-5)


def test_eq4_bernoulli_form_on_toy_example():
    logits_a, logits_b = _toy_dm_inputs()
    expected = -(0.6 * math.log(0.35) + 0.4 * math.log(0.65)) - (0.1 * math.log(0.3) + 0.9 * math.log(0.7))
    got = distribution_matching(logits_a, logits_b, TOY_R, "bernoulli").item()
    assert got == pytest.approx(expected, rel=1e-5)


def test_dm_is_a_mean_over_samples():
    logits_a, logits_b = _toy_dm_inputs()
    one = distribution_matching(logits_a, logits_b, TOY_R, "paper")
    other_a, other_b = torch.zeros(1, 3), torch.zeros(1, 2)
    two = distribution_matching(torch.cat([logits_a, other_a]), torch.cat([logits_b, other_b]), TOY_R, "paper")
    q = torch.tensor([1 / 3 + 0.5 / 3, 1 / 3])
    second = -(0.5 * torch.log(q)).sum()
    assert two.item() == pytest.approx((one.item() + second.item()) / 2, rel=1e-5)


@pytest.mark.parametrize("grad_to, a_learns, b_learns", [
    ("both", True, True), ("multilabel", False, True), ("multiclass", True, False)])
@pytest.mark.parametrize("form", ["paper", "bernoulli"])
def test_dm_grad_to_detaches_the_teacher_side(grad_to, a_learns, b_learns, form):
    logits_a = torch.tensor([[0.3, -0.2, 0.1]], requires_grad=True)
    logits_b = torch.tensor([[0.4, -0.7]], requires_grad=True)
    distribution_matching(logits_a, logits_b, TOY_R, form, grad_to).backward()
    for logits, learns in ((logits_a, a_learns), (logits_b, b_learns)):
        has_grad = logits.grad is not None and bool(logits.grad.abs().sum() > 0)
        assert has_grad == learns


def test_dm_no_nan_or_inf_when_q_has_zeros():
    rel = torch.tensor([[0.0, 0.0], [0.0, 1.0]])  # q(b0) is always 0, q(b1) can be 1
    logits_a = torch.tensor([[50.0, -50.0], [-50.0, 50.0]], requires_grad=True)
    logits_b = torch.tensor([[30.0, 30.0], [30.0, -30.0]], requires_grad=True)
    for form in ("paper", "bernoulli"):
        loss = distribution_matching(logits_a, logits_b, rel, form, "both", unlinked="keep")  # keep: q(b0) = 0 stays
        assert torch.isfinite(loss)
        loss.backward()
        assert torch.isfinite(logits_a.grad).all() and torch.isfinite(logits_b.grad).all()
        logits_a.grad = logits_b.grad = None


def test_dm_rejects_unknown_options():
    logits_a, logits_b = _toy_dm_inputs()
    with pytest.raises(ValueError, match="form"):
        distribution_matching(logits_a, logits_b, TOY_R, form="kl")
    with pytest.raises(ValueError, match="grad_to"):
        distribution_matching(logits_a, logits_b, TOY_R, grad_to="none")


# ---------------------------------------------------------------- unlinked labels and the AU optimum (issue 16)

BETA = 1 / 17  # masked_bce's weight per AU when all 17 are coded


def _present_au_optimum(aus: list[str], lam: float, **dm_options) -> list[float]:
    """p(au) at the optimum, over its logit, of masked_bce + λ·DM for an image with `au` present.

    One sample per AU, each with its own free logit (Adam normalises each parameter's step, so the
    batch mean does not couple them). All 17 AUs are coded (the others absent, logits fixed at −3);
    the expression prediction is neutral (q = 0 for every AU: the case that presses hardest on p).
    The library's own losses.
    """
    rel, n = _du2014("binary"), len(aus)
    mine = torch.zeros(n, 17, dtype=torch.bool)
    mine[torch.arange(n), [A[au] for au in aus]] = True
    labels, others = mine.float(), torch.full((n, 17), -3.0)
    logits_a = torch.full((n, 7), -10.0)
    logits_a[:, E["neutral"]] = 10.0
    z = torch.zeros(n, 1, requires_grad=True)
    # gradient descent, not a line search on the loss's value: with a one-sided grad_to the value
    # depends on p although no gradient reaches it, and training follows the gradient
    opt = torch.optim.Adam([z], lr=0.1)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, 0.99)
    for _ in range(400):
        logits_b = torch.where(mine, z, others)
        loss = masked_bce(logits_b, labels) + lam * distribution_matching(logits_a, logits_b, rel, **dm_options)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return torch.sigmoid(z[:, 0]).tolist()


@pytest.mark.parametrize("lam", [1 / 17, 1.0])
def test_au_present_on_every_sample_keeps_p_above_half_with_default_options(lam):
    # AU14: linked to no expression in Du's table; AU12: linked to happiness only
    assert min(_present_au_optimum(["au14", "au12"], lam)) > 0.5


def test_unlinked_keep_reproduces_the_paper_optimum_and_drop_removes_it():
    # eq. 4 as written charges −log(1e-6) = 13.8 per unit of p(AU14) on every sample: the optimum of
    # −β log p + λ·13.8·p is p = β / (13.8 λ) = 0.072 at λ = β (issue 16 saw 0.10–0.19 with fewer AUs coded)
    paper = {"form": "paper", "grad_to": "both"}
    expected = BETA / (-math.log(1e-6) * BETA)
    assert _present_au_optimum(["au14"], BETA, unlinked="keep", **paper)[0] == pytest.approx(expected, abs=2e-3)
    assert _present_au_optimum(["au14"], BETA, unlinked="drop", **paper)[0] > 0.98


@pytest.mark.parametrize("form", ["paper", "bernoulli"])
@pytest.mark.parametrize("grad_to", ["both", "multilabel", "multiclass"])
def test_no_gradient_reaches_unlinked_logits_by_default(form, grad_to):
    torch.manual_seed(0)
    logits_a = torch.randn(4, 7, requires_grad=True)
    logits_b = torch.randn(4, 17, requires_grad=True)
    rel = _du2014("binary")
    loss = distribution_matching(logits_a, logits_b, rel, form, grad_to)
    loss.backward()
    assert logits_b.grad is None or torch.all(logits_b.grad[:, A["au14"]] == 0)
    linked = [j for j in range(17) if j != A["au14"]]
    expected = distribution_matching(logits_a, logits_b[:, linked], rel[:, linked], form, grad_to, "keep")
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)  # AU14 adds nothing


def test_unlinked_keep_sums_every_label_as_eq4():
    logits_a, logits_b = torch.zeros(1, 3), torch.tensor([[_logit(0.6), _logit(0.1)]])
    rel = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])  # b1 linked to nothing: q(b1) = 0 → 1e-6
    q0 = 2 / 3
    assert distribution_matching(logits_a, logits_b, rel, "paper", unlinked="keep").item() == pytest.approx(
        -(0.6 * math.log(q0) + 0.1 * math.log(1e-6)), rel=1e-5)
    assert distribution_matching(logits_a, logits_b, rel, "paper").item() == pytest.approx(-0.6 * math.log(q0),
                                                                                           rel=1e-5)
    with pytest.raises(ValueError, match="unlinked"):
        distribution_matching(logits_a, logits_b, rel, unlinked="zero")


def test_dm_with_no_linked_label_is_zero_with_graph():
    logits_a = torch.randn(2, 3, requires_grad=True)
    loss = distribution_matching(logits_a, torch.randn(2, 2), torch.zeros(3, 2), "paper", "both")
    assert loss.item() == 0.0
    loss.backward()
    assert torch.all(logits_a.grad == 0)


def test_default_dm_teaches_the_expression_the_textbook_faces_and_neutral():
    # grad_to multiclass: AU predictions fixed; minimise DM alone over the expression logits
    rel = _du2014("binary")
    for name in ("surprise", "neutral"):  # the paper form picks fear (a superset of surprise's AUs) for both
        p_b = torch.where(rel[E[name]] > 0, 0.9, 0.1)[None]
        logits_a = torch.zeros(1, 7, requires_grad=True)
        opt = torch.optim.Adam([logits_a], lr=0.05)
        for _ in range(1500):
            opt.zero_grad()
            distribution_matching(logits_a, torch.log(p_b / (1 - p_b)), rel).backward()
            opt.step()
        assert logits_a.argmax().item() == E[name]


# ---------------------------------------------------------------- indicator scores and soft labels (eq. 5–7)

def _all_aus_off(**on) -> torch.Tensor:
    y = torch.zeros(1, 17)
    for name, value in on.items():
        y[0, A[name]] = value
    return y


def test_eq5_happiness_indicator_with_weights_and_binary():
    y = _all_aus_off(au12=1.0, au25=0.0, au6=1.0)
    weighted = indicator_scores(y, _du2014("weighted"))
    assert weighted[0, E["happiness"]].item() == pytest.approx((1 + 0 + 0.51) / 2.51, rel=1e-6)
    binary = indicator_scores(y, _du2014("binary"))
    assert binary[0, E["happiness"]].item() == pytest.approx(2 / 3, rel=1e-6)
    # sadness: 4, 15 (1), 1 (0.6), 6 (0.5), 17 (0.67) → only AU6 is on
    assert weighted[0, E["sadness"]].item() == pytest.approx(0.5 / (1 + 1 + 0.6 + 0.5 + 0.67), rel=1e-5)


def test_indicator_ignores_unannotated_labels():
    y = torch.full((1, 17), NAN)
    y[0, A["au12"]] = 1.0
    y[0, A["au6"]] = 0.0  # AU25 not annotated: leaves numerator and denominator
    scores = indicator_scores(y, _du2014("weighted"))
    assert scores[0, E["happiness"]].item() == pytest.approx(1 / 1.51, rel=1e-6)
    assert scores[0, E["surprise"]].item() == 0.0  # no annotated linked AU: 0, not NaN
    assert not torch.isnan(scores).any()


def test_neutral_zero_versus_complement():
    y = torch.tensor([[1.0, 0.0], [0.0, 0.0], [NAN, 1.0]])
    zero = indicator_scores(y, TOY_R, neutral="zero")
    comp = indicator_scores(y, TOY_R, neutral="complement")
    assert torch.equal(zero[:, 2], torch.zeros(3))
    # class scores: row0 [1, 0.5/1.5], row1 [0, 0], row2 [0 (b0 unannotated), 1/1]
    expected_linked = torch.tensor([[1.0, 0.5 / 1.5], [0.0, 0.0], [0.0, 1.0]])
    assert torch.allclose(zero[:, :2], expected_linked)
    assert torch.allclose(comp[:, :2], expected_linked)
    assert torch.allclose(comp[:, 2], torch.tensor([0.0, 1.0, 0.0]))
    with pytest.raises(ValueError):
        indicator_scores(y, TOY_R, neutral="other")


def test_eq6_soft_label_is_softmax_of_indicator_scores():
    y = _all_aus_off(au12=1.0, au25=1.0, au6=1.0)
    q = soft_coannotation_target(y, _du2014("weighted"))
    scores = indicator_scores(y, _du2014("weighted"))
    expected = torch.exp(scores) / torch.exp(scores).sum(1, keepdim=True)
    assert torch.allclose(q, expected)
    # by hand: AU25 is also linked to fear (1/5.53) and surprise (1/4.66); AU6 to sadness (0.5/3.77)
    hand = {"neutral": 0.0, "anger": 0.0, "disgust": 0.0, "fear": 1 / 5.53, "happiness": 1.0,
            "sadness": 0.5 / 3.77, "surprise": 1 / 4.66}
    z = sum(math.exp(v) for v in hand.values())
    for name, value in hand.items():
        assert q[0, E[name]].item() == pytest.approx(math.exp(value) / z, rel=1e-5)
    assert q.sum().item() == pytest.approx(1.0)


def _toy_sca():
    labels_b = torch.tensor([[1.0, 0.0], [NAN, NAN]])  # second sample: no B label → not used
    logits_a = torch.tensor([[0.2, 1.0, -0.5], [5.0, 5.0, 5.0]])
    i = [1.0, 0.5 / 1.5, 0.0]
    z = sum(math.exp(v) for v in i)
    q = [math.exp(v) / z for v in i]
    zp = sum(math.exp(v) for v in (0.2, 1.0, -0.5))
    p = [math.exp(v) / zp for v in (0.2, 1.0, -0.5)]
    return logits_a, labels_b, p, q


def test_eq7_paper_form_on_toy_example():
    logits_a, labels_b, p, q = _toy_sca()
    expected = -sum(pi * math.log(qi) for pi, qi in zip(p, q))
    got = soft_coannotation(logits_a, labels_b, TOY_R, form="paper")
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_eq7_kl_form_on_toy_example():
    logits_a, labels_b, p, q = _toy_sca()
    expected = sum(qi * (math.log(qi) - math.log(pi)) for pi, qi in zip(p, q))
    got = soft_coannotation(logits_a, labels_b, TOY_R, form="kl")
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_sca_without_any_b_label_is_zero_with_graph():
    logits_a = torch.randn(2, 3, requires_grad=True)
    loss = soft_coannotation(logits_a, torch.full((2, 2), NAN), TOY_R)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.all(logits_a.grad == 0)


def test_sca_gradient_reaches_the_multiclass_logits_only():
    logits_a = torch.tensor([[0.2, 1.0, -0.5]], requires_grad=True)
    soft_coannotation(logits_a, torch.tensor([[1.0, 0.0]]), TOY_R, form="kl").backward()
    assert logits_a.grad.abs().sum() > 0


def test_eq6_temperature_divides_the_indicator_scores():
    y = _all_aus_off(au12=1.0, au25=1.0, au6=1.0)
    w = _du2014("weighted")
    scores = indicator_scores(y, w)
    assert torch.allclose(soft_coannotation_target(y, w, temperature=1.0), torch.softmax(scores, 1))
    assert torch.allclose(soft_coannotation_target(y, w, temperature=0.25), torch.softmax(scores / 0.25, 1))
    with pytest.raises(ValueError, match="temperature"):
        soft_coannotation_target(y, w, temperature=0.0)


def test_eq6_at_t1_is_nearly_uniform_and_a_lower_temperature_sharpens_it():
    # I ∈ [0, 1]: at T = 1 no class exceeds e / (e + 6) for 7 classes, even for a textbook face
    y = _all_aus_off(au12=1.0, au25=1.0, au6=1.0)
    w = _du2014("weighted")
    top = soft_coannotation_target(y, w)[0].max().item()
    assert top <= math.e / (math.e + 6) + 1e-6
    sharp = soft_coannotation_target(y, w, temperature=0.1)[0]
    assert sharp.argmax().item() == E["happiness"] and sharp.max().item() > 0.99


def _minimise_sca(y, w, form, temperature=1.0):
    logits_a = torch.zeros(1, 7, requires_grad=True)
    opt = torch.optim.Adam([logits_a], lr=0.1)
    for _ in range(500):
        opt.zero_grad()
        soft_coannotation(logits_a, y, w, form, temperature=temperature).backward()
        opt.step()
    return torch.softmax(logits_a.detach(), 1)[0]


def test_eq7_paper_form_is_minimised_by_a_one_hot_at_argmax_q_and_kl_by_q():
    y = _all_aus_off(au12=1.0, au25=1.0, au6=1.0)
    w = _du2014("weighted")
    q = soft_coannotation_target(y, w)[0]  # nearly uniform: top 0.29
    paper = _minimise_sca(y, w, "paper")
    assert paper.argmax().item() == q.argmax().item() and paper.max().item() > 0.99
    assert torch.allclose(_minimise_sca(y, w, "kl"), q, atol=1e-3)


def test_eq7_paper_form_temperature_only_rescales_it():
    # Σ_a p_a = 1, so Σ −p log softmax(I/T) = −Σ p I / T + logsumexp(I/T): the gradient scales by 1/T
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    grads = []
    for t in (1.0, 0.25):
        logits_a = torch.tensor([[0.2, 1.0, -0.5], [0.3, -0.1, 0.4]], requires_grad=True)
        soft_coannotation(logits_a, y, TOY_R, "paper", temperature=t).backward()
        grads.append(logits_a.grad)
    assert torch.allclose(grads[1], grads[0] / 0.25, atol=1e-6)


# ---------------------------------------------------------------- co-annotation (section 3.1.2)

def test_coannotate_a_to_b_fills_linked_labels_with_observational_weights():
    rel = _du2014("weighted")
    hard = torch.tensor([E["happiness"]])
    labels_b = torch.full((1, 17), NAN)
    labels_b[0, A["au6"]] = 0.0  # an existing annotation is kept, not overwritten
    new_a, new_b, w = coannotate(hard, labels_b, rel, "weighted")
    assert new_a.tolist() == [E["happiness"]]
    assert new_b[0, A["au12"]] == 1 and new_b[0, A["au25"]] == 1
    assert new_b[0, A["au6"]] == 0 and w[0, A["au6"]] == 1.0
    assert w[0, A["au12"]] == 1.0 and w[0, A["au25"]] == 1.0
    others = [j for n, j in A.items() if n not in ("au12", "au25", "au6")]
    assert torch.isnan(new_b[0, others]).all()

    sad = torch.tensor([E["sadness"]])
    _, b2, w2 = coannotate(sad, torch.full((1, 17), NAN), rel, "weighted")
    assert b2[0, A["au1"]] == 1 and w2[0, A["au1"]].item() == pytest.approx(0.6)
    assert w2[0, A["au17"]].item() == pytest.approx(0.67)
    assert w2[0, A["au4"]].item() == 1.0
    _, _, w3 = coannotate(sad, torch.full((1, 17), NAN), rel, "binary")
    assert torch.all(w3 == 1.0)


def test_coannotate_leaves_labels_untouched_for_neutral_and_unlabelled_rows():
    rel = _du2014("weighted")
    hard = torch.tensor([E["neutral"], -1])
    labels_b = torch.full((2, 17), NAN)
    new_a, new_b, w = coannotate(hard, labels_b, rel)
    assert new_a.tolist() == [E["neutral"], -1]
    assert torch.isnan(new_b).all() and torch.all(w == 1)


def test_coannotate_b_to_a_rules_on_toy_relatedness():
    rel = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.6, 0.0], [0.0, 0.0, 0.0]])  # class 2 links nothing
    labels_b = torch.tensor([
        [1.0, 1.0, 0.0],    # both 0 and 1 satisfied → 1 (larger requirement)
        [1.0, 0.0, 1.0],    # only class 0 satisfied
        [0.0, 1.0, 1.0],    # b0 off: nothing satisfied → stays −1
        [NAN, 1.0, NAN],    # only b1 annotated, on → class 1 (its annotated linked labels are all on)
        [NAN, NAN, 1.0],    # no linked label annotated → stays −1
        [1.0, 1.0, 1.0],    # already labelled: kept
    ])
    hard = torch.tensor([-1, -1, -1, -1, -1, 2])
    new_a, new_b, _ = coannotate(hard, labels_b, rel)
    assert new_a.tolist() == [1, 0, -1, 1, -1, 2]
    assert torch.equal(torch.isnan(new_b), torch.isnan(labels_b))  # B → A adds no B labels


def test_coannotate_b_to_a_on_du2014():
    rel = _du2014("weighted")
    happy = _all_aus_off(au12=1.0, au25=1.0, au6=1.0)
    # surprise (1, 2, 25, 26, 5) and happiness both satisfied: surprise has the larger requirement
    both = _all_aus_off(au1=1.0, au2=1.0, au5=1.0, au6=1.0, au12=1.0, au25=1.0, au26=1.0)
    partial = _all_aus_off(au12=1.0, au25=1.0)  # AU6 annotated off: happiness not satisfied
    new_a, _, _ = coannotate(torch.tensor([-1, -1, -1]), torch.cat([happy, both, partial]), rel)
    assert new_a.tolist() == [E["happiness"], E["surprise"], -1]
