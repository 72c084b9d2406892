"""Map-style image datasets over manifests, with an optional decoded in-memory cache.

A dataset yields (uint8 image (3, S, S), row index); labels stay in one tensor table and are
gathered by index inside the training step, so collation never loops over label dicts.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from facebehavior.data.manifest import Manifest, encode_labels, task_presence
from facebehavior.data.transforms import load_image
from facebehavior.errors import ManifestError
from facebehavior.labels import TaskSpec


class ImageTable(Dataset):
    """Images of a manifest at a fixed size, with their encoded labels."""

    def __init__(self, manifest: Manifest, tasks: list[TaskSpec], image_size: int, check_files: bool = True):
        self.manifest = manifest
        self.paths = [str(p) for p in manifest.image_paths()]
        self.size = image_size
        self.databases = manifest.frame["database"].astype(str).to_numpy()
        arrays = encode_labels(manifest.frame, tasks)
        self.labels = {k: torch.from_numpy(np.array(v)) for k, v in arrays.items()}  # writable copies
        self.presence = task_presence(arrays, tasks)
        self.cache: torch.Tensor | None = None
        if check_files:
            self._check_files()

    def _check_files(self) -> None:
        import os

        missing = [i for i, p in enumerate(self.paths) if not os.path.isfile(p)]
        if missing:
            # rows were filtered and joined, so name the file rather than a (wrong) line number
            problems = [f"image {self.paths[i]} not found (listed in {self.manifest.source})" for i in missing]
            raise ManifestError(f"{len(missing)} image(s) listed in the manifest do not exist "
                                "(run `facebehavior data prepare`, or fix `data.root`)", problems)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        if self.cache is not None:
            return self.cache[i], i
        img = load_image(self.paths[i], self.size)
        return torch.from_numpy(img).permute(2, 0, 1).contiguous(), i

    def cache_in_memory(self, workers: int = 0, progress: bool = False) -> None:
        """Decode every image once (in parallel) and keep the uint8 tensor (N, 3, S, S)."""
        out = torch.empty((len(self), 3, self.size, self.size), dtype=torch.uint8)
        loader = DataLoader(self, batch_size=256, num_workers=workers, shuffle=False)
        if progress:
            from tqdm import tqdm

            loader = tqdm(loader, desc="decoding images", unit="batch", leave=False)
        for images, idx in loader:
            out[idx] = images
        self.cache = out

    def batch_labels(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        return {k: v[idx] for k, v in self.labels.items()}


def subset_rows(table_len: int, mask: np.ndarray) -> np.ndarray:
    return np.flatnonzero(mask[:table_len])
