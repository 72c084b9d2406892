"""k-shot sampling, freezing, fine-tuning end to end and the `finetune` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from facebehavior.cli.main import main
from facebehavior.compound.fewshot import (FinetuneSettings, apply_freeze, build_compound_model, finetune,
                                           sample_k_shot)
from facebehavior.config import load_config
from facebehavior.errors import ConfigError, FaceBehaviorError
from facebehavior.labels import affect_tasks
from facebehavior.models import build_model
from facebehavior.models.checkpoint import CheckpointMeta, load_model, save_checkpoint
from tests.compound.conftest import IMAGE_SIZE


def test_k_shot_sampling_is_exact_and_deterministic():
    rng = np.random.default_rng(1)
    targets = rng.integers(-1, 5, 300)  # -1: no label, never sampled
    a, b = sample_k_shot(targets, 7, seed=3, num_classes=5), sample_k_shot(targets, 7, seed=3, num_classes=5)
    np.testing.assert_array_equal(a, b)
    assert np.bincount(targets[a], minlength=5).tolist() == [7] * 5
    assert len(set(a.tolist())) == len(a) and (np.diff(a) > 0).all()
    assert not np.array_equal(a, sample_k_shot(targets, 7, seed=4, num_classes=5))
    np.testing.assert_array_equal(sample_k_shot(targets, None, 0), np.flatnonzero(targets >= 0))
    with pytest.raises(FaceBehaviorError, match="needs 1000 of every class"):
        sample_k_shot(targets, 1000, 0)
    with pytest.raises(ConfigError):
        sample_k_shot(targets, 0, 0)


@pytest.fixture(scope="module")
def random_checkpoint(tmp_path_factory):
    """An untrained tiny affect network saved as a checkpoint (its weights do not matter here)."""
    cfg = load_config(base={"name": "rand", "tasks": [{"name": t.name, "kind": t.kind, "labels": list(t.labels)}
                                                      for t in affect_tasks()],
                            "data": {"image_size": IMAGE_SIZE}, "model": {"preset": "tiny", "widths": [8, 8, 16, 16]}})
    model = build_model(cfg.model, cfg.task_specs())
    meta = CheckpointMeta(config=cfg.to_dict(), tasks=[], trained_tasks=["expr", "au", "va"])
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "best", model, meta)


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("mode", ["backbone", "all_but_last_stage"])
def test_frozen_parameters_and_statistics_do_not_change(random_checkpoint, mode):
    model, frozen, _ = build_compound_model(random_checkpoint, ["a", "b", "c"], mode)
    assert model.head.out_features == 3
    before_frozen = [_state(m) for m in frozen]
    trainable_before = _state(model.head)
    last_stage_before = _state(model.backbone.stages[-1])
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 255, (12, 3, IMAGE_SIZE, IMAGE_SIZE), dtype=torch.uint8, generator=g)
    losses = finetune(model, frozen, images, torch.arange(12) % 3, FinetuneSettings(freeze=mode, min_steps=3,
                                                                                   epochs=1, batch_size=6))
    assert len(losses) == 3
    for module, state in zip(frozen, before_frozen):
        for k, v in module.state_dict().items():
            assert torch.equal(v, state[k]), k  # weights and batch-norm running statistics
    assert not torch.equal(model.head.weight, trainable_before["weight"])
    last_stage = model.backbone.stages[-1].state_dict()
    last_changed = any(not torch.equal(v, last_stage_before[k]) for k, v in last_stage.items())
    assert last_changed == (mode == "all_but_last_stage")
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert all(n.startswith("head.") or n.startswith("backbone.stages.3.") for n in trainable)


def test_all_but_last_stage_is_a_clear_error_for_a_timm_backbone():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = torch.nn.Sequential(torch.nn.Linear(2, 2))

    with pytest.raises(ConfigError, match="fbn backbone"):
        apply_freeze(Net(), "all_but_last_stage")
    net = Net()
    assert apply_freeze(net, "backbone") == [net.backbone]
    assert not any(p.requires_grad for p in net.backbone.parameters())


def test_finetune_cli_saves_loadable_checkpoints_and_results(random_checkpoint, random_compound_manifest, tmp_path):
    out = tmp_path / "ft"
    code = main(["finetune", "--checkpoint", str(random_checkpoint), "--task", "compound",
                 "-m", str(random_compound_manifest), "--classes", "rafdb", "--shots", "2", "--seeds", "0,1",
                 "--freeze", "all_but_last_stage", "--epochs", "1", "--min-steps", "2", "--out", str(out)])
    assert code == 0
    result = json.loads((out / "finetune.json").read_text())
    assert [r["seed"] for r in result["runs"]] == [0, 1] and all(r["n_train"] == 22 for r in result["runs"])
    assert result["train_rows"]["unlabelled"] == 1 and result["test_rows"]["used"] == 22
    assert result["runs"][0]["train_paths"] != result["runs"][1]["train_paths"]  # each seed its own sample
    model, meta, cfg = load_model(result["runs"][0]["checkpoint"])
    assert [t.name for t in cfg.task_specs()] == ["compound"] and meta.trained_tasks == ["compound"]
    assert model(torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE))["compound"].shape == (1, 11)
    assert (out / "seed0" / "compound_confusion.png").is_file()


def test_finetune_cli_rejects_bad_shots(random_checkpoint, random_compound_manifest, capsys):
    code = main(["finetune", "--checkpoint", str(random_checkpoint), "-m", str(random_compound_manifest),
                 "--shots", "some"])
    assert code == 2 and "--shots" in capsys.readouterr().err
    code = main(["finetune", "--checkpoint", str(random_checkpoint), "-m", str(random_compound_manifest),
                 "--shots", "5", "--seeds", "0", "--epochs", "1"])
    assert code == 2 and "needs 5 of every class" in capsys.readouterr().err
