"""Mixup over partially labelled batches: who is paired, what the mixed loss equals, the step."""

import pytest
import torch
import torch.nn.functional as F

from facebehavior.config import ExperimentConfig, from_dict
from facebehavior.errors import ConfigError
from facebehavior.labels import TaskSpec
from facebehavior.losses.objective import MultiTaskObjective, labelled_rows
from facebehavior.training.coupling_setup import build_couplings
from facebehavior.training.data import build_training_data, label_arrays_numpy
from facebehavior.training.mixup import draw_lambda, mix_inputs, mixed_losses, partners
from facebehavior.training.step import build_step_parts, optimisation_step

from tests.training.conftest import tiny_config

NAN = float("nan")
EXPR = TaskSpec("expr", "multiclass", ["a", "b", "c"])
AU = TaskSpec("au", "multilabel", ["au1", "au2"])


def _labels():
    # rows 0-3 label expr only, 4-6 AU only, 7 both: three kinds
    expr = torch.tensor([0, 1, 2, 1, -1, -1, -1, 0])
    au = torch.full((8, 2), NAN)
    au[4:] = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    return {"expr": expr, "au": au}


def test_partners_are_a_permutation_within_samples_that_label_the_same_tasks():
    labels = _labels()
    kind = torch.stack([labelled_rows(t, labels) for t in (EXPR, AU)], 1)
    for seed in range(20):
        p = partners([EXPR, AU], labels, torch.Generator().manual_seed(seed))
        assert sorted(p.tolist()) == list(range(8))
        assert torch.equal(kind[p], kind)
        assert p[7] == 7  # alone of its kind
    drawn = {tuple(partners([EXPR, AU], labels, torch.Generator().manual_seed(s)).tolist()) for s in range(20)}
    assert len(drawn) > 5  # really random within a kind


def test_the_mixed_loss_is_cross_entropy_against_the_mixed_soft_targets():
    logits = {"expr": torch.randn(4, 3)}
    soft = torch.softmax(torch.randn(4, 3), 1)
    labels = {"expr": torch.full((4,), -1), "expr_soft": soft}
    partner, lam = torch.tensor([2, 3, 0, 1]), 0.3
    mixed = mixed_losses(MultiTaskObjective([EXPR]), logits, labels, partner, lam)
    target = lam * soft + (1 - lam) * soft[partner]
    expected = -(target * F.log_softmax(logits["expr"], 1)).sum(1).mean()
    assert mixed["expr"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert mixed["total"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_a_task_is_present_when_either_side_of_the_mix_labels_it():
    labels = {"expr": torch.tensor([0, -1]), "au": torch.tensor([[NAN, NAN], [1.0, 0.0]])}
    present = {}
    mixed_losses(MultiTaskObjective([EXPR, AU]), {"expr": torch.randn(2, 3), "au": torch.randn(2, 2)},
                 labels, torch.tensor([1, 0]), 0.5, present)
    assert present == {"expr": True, "au": True}


def test_lambda_follows_beta_and_replays_for_the_same_generator_state():
    draws = [draw_lambda(0.2, torch.Generator().manual_seed(s)) for s in range(400)]
    assert all(0.0 <= d <= 1.0 for d in draws)
    extreme = sum(d < 0.1 or d > 0.9 for d in draws) / len(draws)
    assert extreme > 0.5  # Beta(0.2, 0.2) puts most of its mass near 0 and 1
    assert draw_lambda(0.2, torch.Generator().manual_seed(3)) == draws[3]
    assert mix_inputs(torch.ones(2, 1), torch.tensor([1, 0]), 0.25).tolist() == [[1.0], [1.0]]


def _parts(tiny_manifest, tmp_path, **train):
    raw = tiny_config(tiny_manifest, tmp_path)
    raw["train"].update(train)
    cfg = from_dict(ExperimentConfig, raw)
    tasks = cfg.task_specs()
    data = build_training_data(cfg, tasks, 0, 1)
    couplings, _ = build_couplings(cfg, tasks, label_arrays_numpy(data.train))
    data.sampler.set_epoch(0)
    return cfg, tasks, data, couplings, next(iter(data.loader))


def test_a_mixup_step_blends_images_of_the_same_label_set_and_replays(tiny_manifest, tmp_path):
    cfg, tasks, data, couplings, (images, idx) = _parts(tiny_manifest, tmp_path, mixup=0.4)
    plain_cfg = from_dict(ExperimentConfig, {**tiny_config(tiny_manifest, tmp_path)})
    plain = build_step_parts(plain_cfg, tasks, data.train, couplings, torch.device("cpu"), 10)
    first = build_step_parts(cfg, tasks, data.train, couplings, torch.device("cpu"), 10)
    second = build_step_parts(cfg, tasks, data.train, couplings, torch.device("cpu"), 10)
    unmixed = optimisation_step(plain, images, idx, 3)
    a, b = optimisation_step(first, images, idx, 3), optimisation_step(second, images, idx, 3)
    assert torch.equal(a.x, b.x)  # a resumed run replays the same partners and λ
    assert not torch.equal(a.x, unmixed.x)
    kinds = torch.stack([labelled_rows(t, a.labels) for t in tasks], 1)
    u, lams = unmixed.x.flatten(1), []
    for row in (a.x != unmixed.x).flatten(1).any(1).nonzero().squeeze(1).tolist():
        fits = []  # each image of the batch as the partner: the λ and residual that explain the blend
        for j in range(len(u)):
            d, e = a.x[row].flatten() - u[j], u[row] - u[j]
            lam = float(d @ e / (e @ e).clamp(min=1e-12))
            fits.append((float((d - lam * e).norm()), j, lam))
        residual, j, lam = min(fits)
        assert residual < 1e-3 and torch.equal(kinds[j], kinds[row])
        lams.append(lam)
    assert lams and max(lams) - min(lams) < 1e-4  # one λ for the step
    assert all(torch.equal(p, q) for p, q in zip(first.model.parameters(), second.model.parameters()))


def test_mixup_under_torchrun_is_refused_with_what_to_do(tiny_manifest, tmp_path):
    cfg, tasks, data, couplings, _ = _parts(tiny_manifest, tmp_path, mixup=0.4)
    with pytest.raises(ConfigError, match="train.mixup is not supported under torchrun"):
        build_step_parts(cfg, tasks, data.train, couplings, torch.device("cpu"), 10, distributed=True)


def test_config_rejects_a_negative_mixup_and_smoothing_of_one(tiny_manifest, tmp_path):
    for key, value in (("mixup", -0.1), ("label_smoothing", 1.0)):
        raw = tiny_config(tiny_manifest, tmp_path)
        raw["train"][key] = value
        with pytest.raises(ConfigError, match=f"train.{key}"):
            from_dict(ExperimentConfig, raw)
