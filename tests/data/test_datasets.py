import os

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import facebehavior.data.datasets as datasets
from facebehavior.data.datasets import ImageTable
from facebehavior.data.manifest import read_manifest, write_manifest
from facebehavior.labels import affect_tasks


@pytest.fixture
def table_factory(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
        rows.append({"path": f"{i}.png", "database": "db", "split": "train", "expr": i % 7})
    manifest = write_manifest(pd.DataFrame(rows), tmp_path / "manifest.csv")
    tasks = [t for t in affect_tasks() if t.name == "expr"]
    return lambda: ImageTable(read_manifest(manifest, tasks), tasks, image_size=16)


def test_store_is_written_then_reused_without_decoding(table_factory, tmp_path, monkeypatch):
    first = table_factory()
    first.cache_in_memory(store=tmp_path / "decoded")
    assert len(list((tmp_path / "decoded").glob("*.npy"))) == 1
    monkeypatch.setattr(datasets, "load_image", lambda *a: pytest.fail("decoded again despite the store"))
    second = table_factory()
    second.cache_in_memory(store=tmp_path / "decoded")
    assert second.cache.shape == (6, 3, 16, 16)
    assert np.array_equal(second.cache.numpy(), first.cache.numpy())


def test_a_changed_image_invalidates_the_store(table_factory, tmp_path):
    table_factory().cache_in_memory(store=tmp_path / "decoded")
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "3.png")
    os.utime(tmp_path / "3.png", ns=(1, 1))  # a new mtime even on coarse-grained file systems
    table = table_factory()
    table.cache_in_memory(store=tmp_path / "decoded")
    assert table.cache[3].sum() == 0
    assert len(list((tmp_path / "decoded").glob("*.npy"))) == 2


def test_a_corrupt_store_file_is_ignored_and_rewritten(table_factory, tmp_path):
    table = table_factory()
    table.cache_in_memory(store=tmp_path / "decoded")
    (stored,) = (tmp_path / "decoded").glob("*.npy")
    stored.write_bytes(b"not an array")
    again = table_factory()
    again.cache_in_memory(store=tmp_path / "decoded")
    assert np.array_equal(again.cache.numpy(), table.cache.numpy())
    assert np.load(stored).shape == (6, 16, 16, 3)  # stored channels-last


def test_a_store_file_of_another_shape_is_ignored_and_rewritten(table_factory, tmp_path):
    table = table_factory()
    table.cache_in_memory(store=tmp_path / "decoded")
    (stored,) = (tmp_path / "decoded").glob("*.npy")
    np.save(stored, np.zeros((6, 3, 16, 16), np.uint8))  # e.g. a channels-first array under this key
    again = table_factory()
    again.cache_in_memory(store=tmp_path / "decoded")
    assert np.array_equal(again.cache.numpy(), table.cache.numpy())
    assert np.load(stored).shape == (6, 16, 16, 3)


def test_cache_holds_the_decoded_images_channels_last_and_gathers_batches(table_factory):
    table = table_factory()
    table.cache_in_memory()
    assert table.cache.shape == (6, 3, 16, 16) and table.cache.is_contiguous(memory_format=torch.channels_last)
    for i in range(6):
        decoded = datasets.load_image(table.paths[i], 16)  # (H, W, 3)
        assert np.array_equal(table.cache[i].permute(1, 2, 0).numpy(), decoded)
    idx = torch.tensor([4, 0, 4, 2])
    batch = table.gather(idx)
    assert batch.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(batch, torch.stack([table.cache[i] for i in idx.tolist()]))


def test_the_decoded_image_cache_refuses_pickled_arrays(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    np.save(tmp_path / "key.npy", np.array([Evil()], dtype=object), allow_pickle=True)
    assert datasets._load_decoded(tmp_path, "key", (1,)) is None  # decoded again, never unpickled
    assert not marker.exists()
