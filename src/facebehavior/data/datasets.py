"""Map-style image datasets over manifests, with an optional decoded in-memory cache.

A dataset yields (uint8 image (3, S, S), row index); labels stay in one tensor table and are
gathered by index inside the training step, so collation never loops over label dicts.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from facebehavior import atomic
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

    def cache_in_memory(self, workers: int = 0, progress: bool = False, store: str | Path | None = None) -> None:
        """Decode every image once (in parallel) and keep them as `cache`, uint8 (N, 3, S, S).

        The cache is channels_last (stored as N×S×S×3), the layout the trainer's warp and model
        take, so a batch is one `gather` and no transposition. With `store`, the decoded array is
        also saved there and reused by later runs on the same images (same paths, sizes and
        modification times, same image size): the demo's many runs and a train/evaluate cycle then
        decode each image once instead of once per process.
        """
        key = self._decode_key() if store else ""  # stats every image: computed once
        pixels = _load_decoded(store, key, (len(self), self.size, self.size, 3)) if store else None
        if pixels is None:
            pixels = torch.empty((len(self), self.size, self.size, 3), dtype=torch.uint8)
            # its own generator: a DataLoader draws a base seed when iterated, which would otherwise
            # move the global generator only on runs that decode (not on those that load the cache)
            loader = DataLoader(self, batch_size=256, num_workers=workers, shuffle=False,
                                generator=torch.Generator())
            if progress:
                from tqdm import tqdm

                loader = tqdm(loader, desc="decoding images", unit="batch", leave=False)
            for images, idx in loader:
                pixels[idx] = images.permute(0, 2, 3, 1)
            if store:
                _save_decoded(store, key, pixels)
        self.cache = pixels.permute(0, 3, 1, 2)

    def gather(self, idx: torch.Tensor) -> torch.Tensor:
        """The cached images at `idx`, uint8 (B, 3, S, S) channels_last.

        `index_select` on the N×S×S×3 storage copies whole images; several times faster than
        advanced indexing (`cache[idx]`), which walks the batch element by element.
        """
        return self.cache.permute(0, 2, 3, 1).index_select(0, idx).permute(0, 3, 1, 2)

    def _decode_key(self) -> str:
        """Changes whenever an image file, the list of images or the decode size changes."""
        digest = hashlib.sha1(f"v2 {self.size}".encode())  # v2: stored N×S×S×3
        for path in self.paths:
            st = os.stat(path)
            digest.update(f"\n{path}\t{st.st_size}\t{st.st_mtime_ns}".encode())
        return digest.hexdigest()[:20]

    def batch_labels(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        return {k: v[idx] for k, v in self.labels.items()}


def _load_decoded(store: str | Path, key: str, shape: tuple) -> torch.Tensor | None:
    path = Path(store) / f"{key}.npy"
    if not path.is_file():
        return None
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:  # a truncated or foreign file: decode again
        logging.getLogger(__name__).warning("ignoring unreadable decoded-image cache %s (%s)", path, err)
        return None
    if array.shape != shape or array.dtype != np.uint8:
        logging.getLogger(__name__).warning("ignoring decoded-image cache %s: %s %s, expected uint8 %s",
                                            path, array.dtype, array.shape, shape)
        return None
    return torch.from_numpy(array)


def _save_decoded(store: str | Path, key: str, images: torch.Tensor) -> None:
    """Atomic write (temp file + rename): concurrent runs never read a half-written cache."""
    store = Path(store)
    try:
        with atomic.replacing(store / f"{key}.npy") as tmp, tmp.open("wb") as f:
            np.save(f, images.numpy(), allow_pickle=False)
    except OSError as err:  # a read-only or full disk only costs the next run a decode
        logging.getLogger(__name__).warning("could not save the decoded-image cache in %s (%s)", store, err)
