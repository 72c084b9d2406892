import contextlib

import pytest
import torch

from facebehavior.config import ExperimentConfig, from_dict
from facebehavior.errors import FaceBehaviorError
from facebehavior.losses.objective import MultiTaskObjective
from facebehavior.models import build_model
from facebehavior.training.coupling_setup import build_couplings
from facebehavior.training.data import build_training_data, label_arrays_numpy
from facebehavior.training.optim import build_optimizer, build_scheduler
from facebehavior.training.step import PHASES, StepParts, optimisation_step

from tests.training.conftest import tiny_config


def _parts(tiny_manifest, tmp_path, lr=0.01) -> tuple[StepParts, object]:
    cfg = from_dict(ExperimentConfig, tiny_config(tiny_manifest, tmp_path, lr=lr))
    tasks = cfg.task_specs()
    data = build_training_data(cfg, tasks, 0, 1)
    couplings, _ = build_couplings(cfg, tasks, label_arrays_numpy(data.train))
    torch.manual_seed(0)
    model = build_model(cfg.model, tasks).to(memory_format=torch.channels_last)
    optimizer = build_optimizer(cfg.train, model)
    parts = StepParts(cfg, model, model, MultiTaskObjective(tasks, couplings), optimizer,
                      build_scheduler(cfg.train, optimizer, 10), torch.amp.GradScaler(enabled=False),
                      contextlib.nullcontext(), torch.device("cpu"), torch.channels_last, data.train)
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


def test_a_non_finite_loss_names_the_step_and_what_to_do(tiny_manifest, tmp_path):
    parts, (images, idx) = _parts(tiny_manifest, tmp_path)
    with torch.no_grad():
        next(parts.model.parameters()).fill_(float("nan"))
    with pytest.raises(FaceBehaviorError, match=r"loss became nan at step 5; lower train.lr"):
        optimisation_step(parts, images, idx, 4)
