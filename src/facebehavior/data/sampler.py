"""Heterogeneous batch composition (section 4.4): one batch per label set, concatenated.

Samples are grouped into label sets (by the tasks they carry, or by database lists from the
config). Every step takes the next `b_s` samples of each set s; sets are sized so all are used up
in the same number of steps (or sizes are given, e.g. the paper's 200 AU / 124 VA / 52 EXPR);
a set that runs out earlier starts a fresh permutation, arranged so that a batch straddling two
permutations never holds a sample twice (when the set has at least 2·(batch − 1) samples). Under
DDP each rank takes a disjoint, equal share of every set's global batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Sampler

from facebehavior.errors import ConfigError


@dataclass
class LabelSet:
    name: str
    indices: np.ndarray
    batch_size: int  # global, over all ranks


def group_label_sets(presence: dict[str, np.ndarray], databases: np.ndarray, spec="auto") -> tuple[list[LabelSet], int]:
    """Label sets as (name, indices); returns them and the count of rows that carry no task."""
    names = list(presence)
    carried = np.stack([presence[n] for n in names], 1) if names else np.zeros((len(databases), 0), bool)
    unlabelled = int((~carried.any(1)).sum())
    sets: list[LabelSet] = []
    if spec == "auto":
        keys = np.array(["+".join(n for n, c in zip(names, row) if c) for row in carried])
        for key in sorted(set(keys) - {""}):
            sets.append(LabelSet(str(key), np.flatnonzero(keys == key), 0))
        return sets, unlabelled
    taken = np.zeros(len(databases), bool)
    for entry in spec:
        mask = np.isin(databases, list(entry.databases)) & carried.any(1)
        if not mask.any():
            raise ConfigError(f"data.label_sets: set {entry.name!r} matches no labelled training row "
                              f"(databases {list(entry.databases)})")
        if (mask & taken).any():
            raise ConfigError(f"data.label_sets: set {entry.name!r} overlaps an earlier set")
        taken |= mask
        sets.append(LabelSet(entry.name, np.flatnonzero(mask), entry.batch_size or 0))
    left = carried.any(1) & ~taken
    if left.any():
        raise ConfigError(f"data.label_sets: {int(left.sum())} labelled training rows belong to no set "
                          f"(databases {sorted(set(databases[left]))}); add them to a set")
    return sets, unlabelled


def assign_batch_sizes(sets: list[LabelSet], total: int, world_size: int, shares: str = "rows") -> None:
    """Fill missing sizes from the batch left after the given ones: ∝ set size with `shares="rows"`
    (all sets used up together), the same for every set with `"equal"`; divisible by the world size.

    A size given in the config is kept as written: one the ranks cannot share equally is an error,
    not silently rounded."""
    for s in sets:
        if s.batch_size and s.batch_size % world_size:
            raise ConfigError(f"data.label_sets: set {s.name!r} has batch size {s.batch_size}, not divisible "
                              f"by the {world_size} ranks; use a multiple of {world_size}")
    if shares == "equal":
        free = [s for s in sets if not s.batch_size]
        left = total - sum(s.batch_size for s in sets)
        weights = {id(s): 1.0 / len(free) for s in free} if free else {}
        base = max(left, len(free))
    else:
        n_total = sum(len(s.indices) for s in sets)
        weights = {id(s): len(s.indices) / n_total for s in sets if not s.batch_size}
        base = total
    for s in sets:
        if not s.batch_size:
            derived = max(1, round(base * weights[id(s)]))
            s.batch_size = max(world_size, derived - derived % world_size)


class HeteroBatchSampler(Sampler):
    """Yields, per step, this rank's indices: its share of each set's batch, in set order."""

    def __init__(self, sets: list[LabelSet], seed: int, rank: int = 0, world_size: int = 1):
        if not sets:
            raise ConfigError("no labelled training samples: every row lacks all declared tasks")
        for s in sets:
            if s.batch_size % world_size:
                raise ConfigError(f"label set {s.name!r}: batch size {s.batch_size} is not divisible by "
                                  f"the {world_size} ranks")
        self.sets, self.seed, self.rank, self.world = sets, seed, rank, world_size
        self.steps_per_epoch = max(math.ceil(len(s.indices) / s.batch_size) for s in sets)
        self.epoch, self.start_step = 0, 0
        self._orders: dict[tuple[int, int], np.ndarray] = {}

    def set_epoch(self, epoch: int, start_step: int = 0) -> None:
        if epoch != self.epoch:
            self._orders.clear()
        self.epoch, self.start_step = epoch, start_step

    def __len__(self) -> int:
        return self.steps_per_epoch - self.start_step

    def _order(self, set_id: int, n: int, cycle: int) -> np.ndarray:
        """Permutation `cycle` of set `set_id` this epoch (cached: every step reads it)."""
        key = (set_id, cycle)
        if key not in self._orders:
            g = torch.Generator().manual_seed(hash((self.seed, self.epoch, set_id, cycle)) % (2**62))
            order = torch.randperm(n, generator=g).numpy()
            overlap = self.sets[set_id].batch_size - 1  # the most a batch takes from each side of a seam
            if cycle > 0 and overlap > 0 and n >= 2 * overlap:
                # samples that ended the previous permutation may not start this one
                recent = np.isin(order, self._order(set_id, n, cycle - 1)[-overlap:])
                fresh = order[~recent]
                order = np.concatenate([fresh[:overlap], order[recent], fresh[overlap:]])
            self._orders[key] = order
        return self._orders[key]

    def global_batch(self, set_id: int, step: int) -> np.ndarray:
        """Dataset indices of set `set_id`'s batch at `step`, over all ranks."""
        s = self.sets[set_id]
        n, b = len(s.indices), s.batch_size
        start = step * b
        positions = np.arange(start, start + b)
        cycles, offsets = positions // n, positions % n
        out = np.empty(b, dtype=np.int64)
        for cycle in np.unique(cycles):  # at most two permutations per batch
            sel = cycles == cycle
            out[sel] = s.indices[self._order(set_id, n, int(cycle))[offsets[sel]]]
        return out

    def __iter__(self):
        for step in range(self.start_step, self.steps_per_epoch):
            parts = []
            for set_id, s in enumerate(self.sets):
                share = self.global_batch(set_id, step)[self.rank::self.world]
                assert len(share) == s.batch_size // self.world, "per-rank batch share is unequal"
                parts.append(share)
            yield np.concatenate(parts).tolist()

    def rank_rows(self) -> tuple[torch.Tensor, int]:
        """Where this rank's samples sit in the global batch as one process takes it (each set's
        batch after the other), and that batch's size: a rank draws the augmentation of the whole
        batch and keeps its rows, so DDP augments every image as one process would."""
        rows, offset = [], 0
        for s in self.sets:
            rows.append(offset + np.arange(self.rank, s.batch_size, self.world))
            offset += s.batch_size
        return torch.as_tensor(np.concatenate(rows), dtype=torch.int64), offset

    def composition(self) -> dict[str, int]:
        return {s.name: s.batch_size for s in self.sets}
