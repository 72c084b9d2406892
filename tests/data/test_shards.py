"""WebDataset shards: pack → read back, nulls, skipped images, rank/worker splits, CLI."""

import json
import tarfile

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from facebehavior.data.manifest import read_manifest
from facebehavior.data.shards import (ShardDataset, collate_samples, distributed_defaults, iter_samples, pack_shards,
                                      shard_list, split_shards)
from facebehavior.errors import FaceBehaviorError
from facebehavior.labels import affect_tasks

TASKS = affect_tasks()


def _images(folder, n):
    rng = np.random.default_rng(7)
    names = []
    for i in range(n):
        if i % 3 == 2:  # gray PNG, colour JPEG, colour BMP (re-encoded as PNG)
            name, image = f"img{i}.bmp", rng.integers(0, 255, (20, 24, 3), np.uint8)
        elif i % 3 == 1:
            name, image = f"img{i}.jpg", np.full((30, 30, 3), (10 * i, 100, 200), np.uint8)
        else:
            name, image = f"img{i}.png", rng.integers(0, 255, (16, 16), np.uint8)
        cv2.imwrite(str(folder / name), image)
        names.append(name)
    return names


@pytest.fixture
def manifest(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    names = _images(folder, 10)
    frame = pd.DataFrame({
        "path": [f"imgs/{n}" for n in names], "database": ["a"] * 5 + ["b"] * 5, "split": "train",
        "expr": [0, 1, None, 3, None, 5, 6, None, 2, 1],
        "au12": [None, 1, 0, None, None, None, 1, 1, None, None],
        "valence": [0.25, None, -0.5, None, None, None, None, 0.75, None, None],
        "box": ["1 2 3 4"] + [None] * 9,
    })
    path = tmp_path / "m.csv"
    frame.to_csv(path, index=False)
    return read_manifest(path, TASKS)


def test_pack_and_read_back_gives_the_same_images_and_labels(manifest, tmp_path):
    index = pack_shards(manifest, tmp_path / "shards", TASKS, shard_size=3, progress=False)
    assert [s["count"] for s in index["shards"]] == [3, 3, 3, 1] and index["total"] == 10
    assert index["tasks"] == {"expr": 7, "au": 4, "va": 3}
    assert index["databases"] == {"a": 5, "b": 5}
    samples = [s for path in shard_list(tmp_path / "shards") for s in iter_samples(path)]
    assert len(samples) == 10
    for i, (image, row) in enumerate(samples):
        source = cv2.cvtColor(cv2.imread(str(manifest.image_paths()[i]), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        assert image.dtype == np.uint8 and image.shape == source.shape
        np.testing.assert_array_equal(image, source)  # PNG/JPEG bytes stored as they were, BMP lossless
        original = manifest.frame.iloc[i]
        assert row["path"] == original["path"] and row["database"] == original["database"]
        for col in ("expr", "au12", "valence"):
            assert (row[col] is None) == pd.isna(original[col])
            if row[col] is not None:
                assert row[col] == original[col]
    assert isinstance(samples[0][1]["expr"], int) and samples[0][1]["box"] == "1 2 3 4"


def test_shard_members_follow_the_webdataset_layout(manifest, tmp_path):
    pack_shards(manifest, tmp_path / "s", TASKS, shard_size=4, progress=False)
    with tarfile.open(tmp_path / "s" / "shard-000000.tar") as tar:
        names = tar.getnames()
        row = json.loads(tar.extractfile("000000001.json").read())
    assert names[:4] == ["000000000.png", "000000000.json", "000000001.jpg", "000000001.json"]
    assert row["valence"] is None and row["expr"] == 1  # nulls stay JSON null


def test_unreadable_images_are_skipped_and_listed(manifest, tmp_path):
    paths = manifest.image_paths()
    paths[4].write_bytes(b"broken")
    paths[5].unlink()
    index = pack_shards(manifest, tmp_path / "s", TASKS, shard_size=100, progress=False)
    assert index["total"] == 8 and index["skipped"] == 2
    assert {s["reason"] for s in index["skipped_rows"]} == {"unreadable_image", "missing_file"}
    assert [s["row"] for s in index["skipped_rows"]] == ["line 6", "line 7"]


def test_rank_splits_are_disjoint_and_cover_all_shards():
    shards = [f"s{i}" for i in range(11)]
    for world in (1, 2, 3, 4):
        parts = [split_shards(shards, r, world, w, 2) for r in range(world) for w in range(2)]
        flat = [s for p in parts for s in p]
        assert sorted(flat) == sorted(shards) and len(flat) == len(set(flat))


def test_dataset_streams_each_sample_once_across_ranks_and_workers(manifest, tmp_path):
    pack_shards(manifest, tmp_path / "s", TASKS, shard_size=2, progress=False)
    keys = []
    for rank in range(2):
        data = ShardDataset(tmp_path / "s", rank=rank, world_size=2, shuffle_shards=True, seed=3)
        loader = torch.utils.data.DataLoader(data, batch_size=None, num_workers=2)
        rank_keys = [row["__key__"] for _, row in loader]
        assert rank_keys
        keys += rank_keys
    assert sorted(keys) == [f"{i:09d}" for i in range(10)]


def test_collate_stacks_same_size_images_and_keeps_rows():
    rows = [{"expr": None}, {"expr": 2}]
    batch = [(np.zeros((4, 4, 3), np.uint8), rows[0]), (np.ones((4, 4, 3), np.uint8), rows[1])]
    images, out_rows = collate_samples(batch)
    assert images.shape == (2, 4, 4, 3) and images.dtype == torch.uint8 and out_rows == rows
    with pytest.raises(FaceBehaviorError, match="different sizes"):
        collate_samples([(np.zeros((4, 4, 3), np.uint8), {}), (np.zeros((5, 4, 3), np.uint8), {})])


def test_dataset_defaults_come_from_the_environment(monkeypatch, manifest, tmp_path):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert distributed_defaults() == (1, 3)
    assert distributed_defaults(rank=0) == (0, 3)
    with pytest.raises(FaceBehaviorError, match="rank 5"):
        distributed_defaults(5, 3)
    pack_shards(manifest, tmp_path / "s", TASKS, shard_size=10, progress=False)
    with pytest.raises(FaceBehaviorError, match="smaller --shard-size"):
        ShardDataset(tmp_path / "s")


def test_cli_pack(manifest, tmp_path, capsys):
    from facebehavior.cli.main import main

    code = main(["data", "pack", "--manifest", manifest.source, "--out", str(tmp_path / "o"),
                 "--shard-size", "4", "--no-progress"])
    assert code == 0
    assert "packed 10/10 rows into 3 shard(s)" in capsys.readouterr().out
    assert json.loads((tmp_path / "o" / "index.json").read_text())["total"] == 10
