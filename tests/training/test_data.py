"""Training data assembly: the in-memory cache is read a whole batch at a time."""

import torch
from torch.utils.data import DataLoader

from facebehavior.config import load_config
from facebehavior.training.data import CachedBatches, build_training_data
from tests.training.conftest import tiny_config


def test_memory_cache_loader_gives_the_per_item_loaders_batches(tiny_manifest, tmp_path):
    cfg = load_config(base=tiny_config(tiny_manifest, tmp_path / "run"))
    data = build_training_data(cfg, cfg.task_specs(), 0, 1)
    assert isinstance(data.loader.dataset, CachedBatches)
    per_item = DataLoader(data.train, batch_sampler=data.sampler, num_workers=0)  # one __getitem__ per image
    batches = list(data.loader)
    assert len(batches) == data.sampler.steps_per_epoch > 1
    for (images, idx), (ref_images, ref_idx) in zip(batches, per_item):
        assert images.dtype == torch.uint8 and idx.dtype == torch.int64
        assert torch.equal(idx, ref_idx) and torch.equal(images, ref_images)
        assert torch.equal(images, data.train.cache[idx])


def test_an_image_in_training_and_in_val_or_test_is_refused_before_decoding_unless_allowed(tiny_manifest, tmp_path):
    import pandas as pd
    import pytest

    from facebehavior.errors import ManifestError

    frame = pd.read_csv(tiny_manifest)
    leaked = frame[frame["split"] == "train"].head(2).assign(split="test")
    test_manifest = tiny_manifest.parent / "leaky_test.csv"
    leaked.to_csv(test_manifest, index=False)
    cfg = tiny_config(tiny_manifest, tmp_path / "run")
    cfg["data"].update(test=[str(test_manifest)], cache="none", cache_dir=None)
    with pytest.raises(ManifestError) as err:
        build_training_data(load_config(base=cfg), load_config(base=cfg).task_specs(), 0, 1)
    assert "2 image(s) are both training and evaluation samples" in str(err.value)
    assert err.value.problems[0].endswith(f"in the training rows ({tiny_manifest}) and in test ({test_manifest})")
    cfg["data"]["allow_split_overlap"] = True
    data = build_training_data(load_config(base=cfg), load_config(base=cfg).task_specs(), 0, 1)
    assert any(n.startswith("2 image(s) are in training and in val/test") for n in data.notes)
