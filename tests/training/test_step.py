import pytest
import torch

from facebehavior.config import ExperimentConfig, from_dict
from facebehavior.errors import FaceBehaviorError
from facebehavior.training.coupling_setup import build_couplings
from facebehavior.training.data import build_training_data, label_arrays_numpy
from facebehavior.training.step import PHASES, StepParts, build_step_parts, optimisation_step

from tests.training.conftest import tiny_config


def _parts(tiny_manifest, tmp_path) -> tuple[StepParts, object]:
    cfg = from_dict(ExperimentConfig, tiny_config(tiny_manifest, tmp_path))
    tasks = cfg.task_specs()
    data = build_training_data(cfg, tasks, 0, 1)
    couplings, _ = build_couplings(cfg, tasks, label_arrays_numpy(data.train))
    parts = build_step_parts(cfg, tasks, data.train, couplings, torch.device("cpu"), 10)
    data.sampler.set_epoch(0)
    return parts, next(iter(data.loader))


def test_step_marks_every_phase_in_order_and_updates_the_weights(tiny_manifest, tmp_path):
    parts, (images, idx) = _parts(tiny_manifest, tmp_path)
    before = [p.detach().clone() for p in parts.model.parameters()]
    marks = []
    out = optimisation_step(parts, images, idx, 0, mark=marks.append)
    assert marks == list(PHASES)
    assert {"total", "expr", "au", "va"} <= set(out.losses)
    assert out.x.shape == (images.shape[0], 3, 32, 32) and out.x.is_contiguous(memory_format=torch.channels_last)
    assert any(not torch.equal(a, b) for a, b in zip(before, parts.model.parameters()))


def test_step_is_reproducible_for_the_same_global_step(tiny_manifest, tmp_path):
    first, (images, idx) = _parts(tiny_manifest, tmp_path)
    second, _ = _parts(tiny_manifest, tmp_path)
    a = optimisation_step(first, images, idx, 7)
    b = optimisation_step(second, images, idx, 7)
    assert torch.equal(a.x, b.x)  # augmentation seeded by (seed, step)
    assert all(torch.equal(p, q) for p, q in zip(first.model.parameters(), second.model.parameters()))


def test_parts_draw_the_same_weights_for_a_seed_whatever_the_generator_did_before(tiny_manifest, tmp_path):
    first, _ = _parts(tiny_manifest, tmp_path)
    torch.rand(1000)  # e.g. a DataLoader drawing its base seed
    second, _ = _parts(tiny_manifest, tmp_path)
    assert all(torch.equal(p, q) for p, q in zip(first.model.parameters(), second.model.parameters()))


def test_a_non_finite_loss_names_the_step_and_what_to_do(tiny_manifest, tmp_path):
    parts, (images, idx) = _parts(tiny_manifest, tmp_path)
    with torch.no_grad():
        next(parts.model.parameters()).fill_(float("nan"))
    with pytest.raises(FaceBehaviorError, match=r"loss became nan at step 5; lower train.lr"):
        optimisation_step(parts, images, idx, 4)
