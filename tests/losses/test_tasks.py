"""Task losses (eq. 2): masked BCE, cross entropy with hard/soft/missing targets, CCC."""

import math

import pytest
import torch

from facebehavior.losses import ccc, ccc_loss, masked_bce, multiclass_ce
from facebehavior.losses.tasks import mse_loss

NAN = float("nan")


def _softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_masked_bce_equals_paper_per_sample_mean_over_annotated():
    logits = torch.tensor([[0.0, 2.0, -1.0], [1.0, 1.0, 1.0], [3.0, 0.5, 2.0]])
    targets = torch.tensor([[1.0, NAN, 0.0], [NAN, NAN, NAN], [NAN, NAN, 1.0]])
    # BCE(z, 1) = softplus(-z), BCE(z, 0) = softplus(z); Σδ·BCE/Σδ per sample, mean over annotated samples.
    first = (_softplus(-0.0) + _softplus(-1.0)) / 2
    third = _softplus(-2.0) / 1
    expected = (first + third) / 2
    assert masked_bce(logits, targets).item() == pytest.approx(expected, rel=1e-6)


def test_masked_bce_weights_scale_entries_but_not_the_denominator():
    logits = torch.tensor([[0.0, -1.0]])
    targets = torch.tensor([[1.0, 0.0]])
    weights = torch.tensor([[0.51, 1.0]])
    expected = (0.51 * math.log(2) + _softplus(-1.0)) / 2
    assert masked_bce(logits, targets, weights).item() == pytest.approx(expected, rel=1e-6)


def test_masked_bce_without_annotation_is_zero_and_keeps_the_graph():
    logits = torch.randn(3, 4, requires_grad=True)
    loss = masked_bce(logits, torch.full((3, 4), NAN))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))


def test_multiclass_ce_hard_targets_skip_missing():
    logits = torch.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, 0.0], [3.0, -1.0, 0.5]])
    hard = torch.tensor([1, -1, 2])

    def nll(row, k):
        return -(row[k] - math.log(sum(math.exp(v) for v in row)))

    expected = (nll([1.0, 2.0, 0.0], 1) + nll([3.0, -1.0, 0.5], 2)) / 2
    assert multiclass_ce(logits, hard).item() == pytest.approx(expected, rel=1e-6)


def test_multiclass_ce_soft_targets_take_precedence_and_nan_rows_fall_back_to_hard():
    logits = torch.tensor([[1.0, 2.0, 0.0], [0.5, 0.0, -0.5], [0.0, 0.0, 0.0]])
    hard = torch.tensor([0, 2, -1])
    soft = torch.tensor([[0.5, 0.5, 0.0], [NAN, NAN, NAN], [NAN, NAN, NAN]])
    log_q = torch.log_softmax(logits, 1)
    expected = (-(0.5 * log_q[0, 0] + 0.5 * log_q[0, 1]) - log_q[1, 2]) / 2
    assert multiclass_ce(logits, hard, soft).item() == pytest.approx(expected.item(), rel=1e-6)


def test_multiclass_ce_all_missing_is_zero_with_gradient():
    logits = torch.randn(2, 7, requires_grad=True)
    loss = multiclass_ce(logits, torch.tensor([-1, -1]), torch.full((2, 7), NAN))
    assert loss.item() == 0.0
    loss.backward()
    assert logits.grad is not None and torch.all(logits.grad == 0)


def test_multiclass_ce_sample_weights_scale_terms_and_weight_zero_leaves_the_mean():
    logits = torch.tensor([[1.0, 2.0, 0.0], [0.5, 0.0, -0.5], [3.0, -1.0, 0.5]])
    hard = torch.tensor([1, 2, 0])
    log_q = torch.log_softmax(logits, 1)
    got = multiclass_ce(logits, hard, None, torch.tensor([1.0, 0.5, 0.0]))
    assert got.item() == pytest.approx(((-log_q[0, 1] - 0.5 * log_q[1, 2]) / 2).item(), rel=1e-6)
    assert multiclass_ce(logits, hard, None, torch.ones(3)).item() == pytest.approx(multiclass_ce(logits, hard).item())


def test_masked_bce_entries_of_weight_zero_are_not_labels():
    logits = torch.tensor([[0.0, -1.0, 2.0], [1.0, 0.0, 0.0]])
    targets = torch.tensor([[1.0, 0.0, 1.0], [1.0, NAN, NAN]])
    weights = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    # sample 0: two labels left; sample 1: none left, so it leaves the mean over samples
    expected = (_softplus(-0.0) + _softplus(-2.0)) / 2
    assert masked_bce(logits, targets, weights).item() == pytest.approx(expected, rel=1e-6)


def test_ccc_identical_is_one_and_shift_matches_formula():
    t = torch.tensor([0.1, -0.4, 0.7, 0.2, -0.9])
    assert ccc(t, t.clone()).item() == pytest.approx(1.0, abs=1e-5)
    shift = 0.3
    var = t.var(unbiased=False).item()
    expected = 2 * var / (2 * var + shift**2)
    got = ccc(t + shift, t).item()
    assert got < 1.0
    assert got == pytest.approx(expected, rel=1e-5)


def test_ccc_per_column_on_2d_input():
    target = torch.tensor([[0.1, 0.5], [0.4, -0.2], [-0.3, -0.3]])  # column 1 has mean 0
    pred = torch.stack([target[:, 0], -target[:, 1]], 1)
    out = ccc(pred, target)
    assert out.shape == (2,)
    assert out[0].item() == pytest.approx(1.0, abs=1e-5)
    assert out[1].item() == pytest.approx(-1.0, abs=1e-5)


def test_ccc_zero_variance_batch_is_finite_with_finite_gradient():
    pred = torch.full((4,), 0.2, requires_grad=True)
    target = torch.full((4,), 0.2)
    value = ccc(pred, target)
    assert torch.isfinite(value)
    value.backward()
    assert torch.isfinite(pred.grad).all()
    pred2 = torch.full((4, 2), 0.5, requires_grad=True)
    loss = ccc_loss(pred2, torch.full((4, 2), -0.1))
    assert torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(pred2.grad).all()


def test_ccc_loss_ignores_nan_targets_and_dimensions_with_fewer_than_two_labels():
    pred = torch.tensor([[0.1, 0.2], [0.5, NAN], [-0.2, 0.3], [0.9, 0.4]])
    targets = torch.tensor([[0.0, NAN], [0.4, 0.1], [NAN, NAN], [1.0, NAN]])
    keep = [0, 1, 3]
    expected = 1 - ccc(pred[keep, 0], targets[keep, 0])  # arousal has one label: skipped
    assert ccc_loss(pred, targets).item() == pytest.approx(expected.item(), rel=1e-6)
    assert not torch.isnan(ccc_loss(pred, targets))


def test_ccc_loss_averages_dimensions_and_is_zero_without_labels():
    pred = torch.randn(6, 2, requires_grad=True)
    targets = torch.randn(6, 2)
    expected = (2 - ccc(pred[:, 0], targets[:, 0]) - ccc(pred[:, 1], targets[:, 1])) / 2
    assert ccc_loss(pred, targets).item() == pytest.approx(expected.item(), rel=1e-6)
    empty = ccc_loss(pred, torch.full((6, 2), NAN))
    assert empty.item() == 0.0 and empty.requires_grad


def test_mse_over_labelled_entries():
    pred = torch.tensor([[0.0, 1.0], [0.5, 0.5]])
    targets = torch.tensor([[1.0, NAN], [0.0, 0.5]])
    assert mse_loss(pred, targets).item() == pytest.approx((1.0 + 0.25 + 0.0) / 3)


def test_label_smoothing_equals_torch_cross_entropy_with_its_label_smoothing():
    logits, hard = torch.randn(6, 5), torch.tensor([0, 4, 2, -1, 1, 3])
    keep = hard >= 0
    expected = torch.nn.functional.cross_entropy(logits[keep], hard[keep], label_smoothing=0.1)
    assert multiclass_ce(logits, hard, smoothing=0.1).item() == pytest.approx(expected.item(), rel=1e-6)


def test_label_smoothing_of_a_soft_target_mixes_it_with_the_uniform_distribution():
    logits, soft = torch.randn(3, 4), torch.softmax(torch.randn(3, 4), 1)
    target = 0.8 * soft + 0.2 / 4
    expected = -(target * torch.log_softmax(logits, 1)).sum(1).mean()
    got = multiclass_ce(logits, torch.full((3,), -1), soft, smoothing=0.2)
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)


def test_smoothed_cross_entropy_is_minimised_below_certainty():
    # what the loss optimises: for a hard label the optimum is p(true) = 1 − ε + ε/K, not 1
    logits = torch.zeros(1, 4, requires_grad=True)
    optimiser = torch.optim.SGD([logits], lr=1.0)
    for _ in range(3000):
        optimiser.zero_grad()
        multiclass_ce(logits, torch.tensor([2]), smoothing=0.2).backward()
        optimiser.step()
    p = torch.softmax(logits.detach(), 1)[0]
    assert p[2].item() == pytest.approx(1 - 0.2 + 0.2 / 4, abs=1e-3)
    assert multiclass_ce(torch.tensor([[0.0, 0.0, 9.0, 0.0]]), torch.tensor([2]), smoothing=0.2) > \
        multiclass_ce(logits.detach(), torch.tensor([2]), smoothing=0.2)
