"""Training data: manifests → image tables, label sets, the heterogeneous sampler, loaders."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from facebehavior.data.datasets import ImageTable
from facebehavior.data.manifest import check_split_overlap, load_split
from facebehavior.data.sampler import HeteroBatchSampler, assign_batch_sizes, group_label_sets
from facebehavior.errors import ConfigError
from facebehavior.labels import TaskSpec


@dataclass
class TrainingData:
    train: ImageTable
    sampler: HeteroBatchSampler
    loader: DataLoader
    val: ImageTable | None
    notes: list[str]


def build_training_data(cfg, tasks: list[TaskSpec], rank: int, world_size: int) -> TrainingData:
    d = cfg.data
    if not d.train:
        raise ConfigError("data.train: list at least one manifest")
    notes: list[str] = []
    train_manifest = load_split(d.train, tasks, "train", d.root, d.databases)
    if train_manifest is None:
        raise ConfigError(f"data.train: no rows with split 'train' in {d.train}")
    # before any image is decoded: an image in training and in val/test is leakage unless allowed
    val_manifest = load_split(d.val or d.train, tasks, "val", d.root, d.databases)
    test_manifest = load_split(d.test or d.train, tasks, "test", d.root, d.databases)
    overlap = check_split_overlap(train_manifest, {"val": val_manifest, "test": test_manifest}, d.allow_split_overlap)
    if overlap:
        notes.append(f"{len(overlap)} image(s) are in training and in val/test (data.allow_split_overlap), "
                     f"e.g. {overlap[0]}")
    train = ImageTable(train_manifest, tasks, d.image_size)
    label_sets = d.label_sets if d.label_sets == "auto" else list(d.label_sets)
    sets, unlabelled = group_label_sets(train.presence, train.databases, label_sets)
    if unlabelled:
        notes.append(f"{unlabelled} training rows carry none of the declared tasks and are not used")
    assign_batch_sizes(sets, d.batch_size, world_size, d.label_set_shares)
    sampler = HeteroBatchSampler(sets, cfg.train.seed, rank, world_size)
    if d.cache == "memory":
        train.cache_in_memory(workers=d.num_workers, progress=cfg.train.progress and rank == 0, store=d.cache_dir)
    if d.cache == "memory":  # the batch is one gather from the cache, on the training thread
        loader = DataLoader(CachedBatches(train), batch_sampler=sampler, num_workers=0, collate_fn=_as_is)
    else:
        loader = DataLoader(train, batch_sampler=sampler, num_workers=d.num_workers, pin_memory=False,
                            persistent_workers=d.num_workers > 0)
    val = ImageTable(val_manifest, tasks, d.image_size) if val_manifest is not None else None
    if val is not None and d.cache == "memory":
        val.cache_in_memory(workers=d.num_workers, store=d.cache_dir)
    if val is None:
        notes.append("no validation rows: the last epoch's weights are kept as 'best'")
    return TrainingData(train, sampler, loader, val, notes)


class CachedBatches(Dataset):
    """An in-memory ImageTable read a batch at a time: DataLoader hands `__getitems__` the batch's
    indices, and one indexing op replaces an item call per image plus the collate's stack."""

    def __init__(self, table: ImageTable):
        self.table = table

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, i: int):
        return self.table[i]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.as_tensor(indices, dtype=torch.int64)
        return self.table.gather(idx), idx


def _as_is(batch):
    return batch


def label_arrays_numpy(table: ImageTable) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in table.labels.items()}
