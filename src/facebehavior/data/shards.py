"""WebDataset-format tar shards: packing a manifest, and streaming them back per rank and worker.

A shard holds, per sample, ``{key}.png`` or ``{key}.jpg`` (the image file's own bytes; other formats
are re-encoded as PNG) and ``{key}.json`` (every manifest column, missing values as JSON null).
``index.json`` beside the shards lists them with their sample counts, the columns, and how many
samples carry labels of each task. Readers need only the standard library's `tarfile`; the files are
also readable by the ``webdataset`` package.
"""

from __future__ import annotations

import io
import json
import os
import random
import tarfile
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import torch
from torch.utils.data import IterableDataset, get_worker_info

from facebehavior import atomic
from facebehavior.data.faces.io import ImageReadError, decode_image, encode_image
from facebehavior.data.manifest import Manifest, encode_labels, task_presence
from facebehavior.errors import FaceBehaviorError
from facebehavior.labels import TaskSpec

INDEX_NAME = "index.json"
PNG_MAGIC, JPEG_MAGIC = b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"


def _image_payload(path: Path) -> tuple[str, bytes]:
    """(extension, bytes): PNG/JPEG files as they are, anything decodable re-encoded as PNG."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageReadError("missing_file", f"{path}: file not found") from None
    except OSError as exc:
        raise ImageReadError("unreadable_file", f"{path}: {exc}") from None
    if data.startswith(PNG_MAGIC) or data.startswith(JPEG_MAGIC):
        decode_image(data, str(path))  # a truncated file must fail here, not in a training run
        return ("png" if data.startswith(PNG_MAGIC) else "jpg"), data
    return "png", encode_image(decode_image(data, str(path)), "png")


def _json_columns(frame: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts: integral float columns become ints, NaN/NA become None."""
    typed = frame.convert_dtypes()
    columns = {}
    for name in typed.columns:
        values = typed[name].astype(object)
        columns[name] = [None if v is pd.NA or (isinstance(v, float) and np.isnan(v))
                         else (v.item() if isinstance(v, np.generic) else v) for v in values]
    return [dict(zip(columns, row)) for row in zip(*columns.values())] if columns else [{} for _ in range(len(frame))]


def _sample_keys(frame: pd.DataFrame) -> list[str]:
    if "key" not in frame or frame["key"].isna().any():
        return [f"{i:09d}" for i in range(len(frame))]
    keys = frame["key"].astype(str).tolist()
    bad = [k for k in keys if not k or "." in k or "/" in k]
    if bad or len(set(keys)) != len(keys):
        raise FaceBehaviorError(f"column 'key': keys must be unique and contain no '.' or '/' "
                                f"(e.g. {bad[:3] or 'duplicates'}); drop the column to number samples instead")
    return keys


def _add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644  # fixed metadata: same input, same bytes
    tar.addfile(info, io.BytesIO(data))


class _ShardWriter:
    """Numbered tar files of at most `shard_size` samples, each renamed into place when complete."""

    def __init__(self, out_dir: Path, shard_size: int):
        self.out_dir, self.shard_size = out_dir, shard_size
        self.shards: list[dict] = []
        self.tar: tarfile.TarFile | None = None
        self.count = 0

    def add(self, key: str, ext: str, image: bytes, row: dict) -> None:
        if self.tar is None or self.count == self.shard_size:
            self.close()
            self.name = f"shard-{len(self.shards):06d}.tar"
            self.tmp = self.out_dir / f".{self.name}.tmp"
            self.tar, self.count = tarfile.open(self.tmp, "w", format=tarfile.USTAR_FORMAT), 0
        _add_member(self.tar, f"{key}.{ext}", image)
        _add_member(self.tar, f"{key}.json", json.dumps(row, ensure_ascii=False).encode())
        self.count += 1

    def close(self) -> None:
        if self.tar is not None:
            self.tar.close()
            self.tmp.replace(self.out_dir / self.name)
            self.shards.append({"name": self.name, "count": self.count})
            self.tar = None


def pack_shards(manifest: Manifest, out_dir: str | Path, tasks: list[TaskSpec], shard_size: int = 1000,
                progress: bool = True) -> dict:
    """Write the manifest's images and rows as shards + ``index.json``; returns the index.

    Unreadable images are skipped, counted and listed in the index (``skipped``)."""
    from tqdm import tqdm

    if shard_size < 1:
        raise FaceBehaviorError(f"shard size {shard_size}: must be at least 1")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("shard-*.tar"):  # a re-pack replaces, never mixes, old shards
        old.unlink()
    started = time.perf_counter()
    frame = manifest.frame
    rows, keys = _json_columns(frame), _sample_keys(frame)
    writer, skipped, packed = _ShardWriter(out_dir, shard_size), [], []
    is_csv = not manifest.source.endswith(".parquet")
    paths = manifest.image_paths()
    for i in tqdm(range(len(frame)), desc="pack", unit="img", disable=not progress, dynamic_ncols=True):
        try:
            ext, data = _image_payload(paths[i])
        except ImageReadError as exc:
            where = f"line {i + 2}" if is_csv else f"row {i}"
            skipped.append({"row": where, "reason": exc.reason, "detail": str(exc)})
            continue
        writer.add(keys[i], ext, data, rows[i])
        packed.append(i)
    writer.close()
    presence = task_presence(encode_labels(frame.iloc[packed].reset_index(drop=True), tasks), tasks)
    index = {
        "format": "webdataset", "version": 1, "source": manifest.source,
        "shards": writer.shards, "total": len(packed), "columns": list(frame.columns),
        "tasks": {t.name: int(presence[t.name].sum()) for t in tasks},
        "databases": {str(k): int(v) for k, v in frame.iloc[packed]["database"].value_counts().items()},
        "skipped": len(skipped), "skipped_rows": skipped, "seconds": round(time.perf_counter() - started, 2),
    }
    atomic.write_text(out_dir / INDEX_NAME, json.dumps(index, indent=2) + "\n")
    return index


# ----------------------------------------------------------------------------- reading


def shard_list(source: str | Path | list) -> list[Path]:
    """Shard paths from an ``index.json``, a folder holding one, or an explicit list of tar files."""
    if isinstance(source, (list, tuple)):
        return [Path(p) for p in source]
    source = Path(source)
    index_path = source / INDEX_NAME if source.is_dir() else source
    if index_path.suffix == ".tar":
        return [index_path]
    if not index_path.is_file():
        raise FaceBehaviorError(f"no shard index at {index_path}; run `facebehavior data pack` first")
    index = json.loads(index_path.read_text())
    paths = [index_path.parent / s["name"] for s in index["shards"]]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FaceBehaviorError(f"{index_path} lists shards that do not exist: {missing[:5]}")
    return paths


def distributed_defaults(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """Explicit values win; then an initialised torch.distributed group; then RANK / WORLD_SIZE."""
    if rank is None or world_size is None:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            env_rank, env_world = torch.distributed.get_rank(), torch.distributed.get_world_size()
        else:
            env_rank, env_world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
        rank = env_rank if rank is None else rank
        world_size = env_world if world_size is None else world_size
    if not 0 <= rank < world_size:
        raise FaceBehaviorError(f"rank {rank} is not in 0..{world_size - 1}")
    return rank, world_size


def split_shards(shards: list, rank: int, world_size: int, worker: int = 0, num_workers: int = 1) -> list:
    """The shards one DataLoader worker of one rank reads: rank-strided, then worker-strided."""
    return list(shards)[rank::world_size][worker::num_workers]


def iter_shard(path: str | Path) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, {extension: bytes}) per sample, streaming the tar from start to end."""
    key, files = None, {}
    with tarfile.open(path, "r|") as tar:
        for member in tar:
            if not member.isfile():
                continue
            base = member.name.rsplit("/", 1)[-1]
            stem, _, ext = base.partition(".")
            member_key = member.name[: len(member.name) - len(base)] + stem
            if key is not None and member_key != key:
                yield key, files
                files = {}
            key = member_key
            files[ext] = tar.extractfile(member).read()
    if key is not None:
        yield key, files


def iter_samples(path: str | Path, decode: bool = True) -> Iterator[tuple[np.ndarray | bytes, dict]]:
    """(RGB uint8 HWC image, or its bytes when `decode` is False; row dict with ``__key__``)."""
    for key, files in iter_shard(path):
        ext = "png" if "png" in files else "jpg" if "jpg" in files else None
        if ext is None or "json" not in files:
            raise FaceBehaviorError(f"{path}: sample {key!r} lacks an image or its json (has {sorted(files)})")
        row = json.loads(files["json"])
        row["__key__"] = key
        yield (decode_image(files[ext], f"{path}:{key}.{ext}") if decode else files[ext]), row


def collate_samples(batch: list[tuple[np.ndarray, dict]]) -> tuple[torch.Tensor, list[dict]]:
    """DataLoader ``collate_fn``: images of one size stacked as uint8 (B, H, W, 3), rows kept as a list
    (the default collate cannot batch the JSON nulls)."""
    images = [image for image, _ in batch]
    shapes = {image.shape for image in images}
    if len(shapes) > 1:
        raise FaceBehaviorError(f"cannot stack images of different sizes {sorted(shapes)}; "
                                "pack prepared (same-size) crops or resize in a map step first")
    return torch.from_numpy(np.stack(images)), [row for _, row in batch]


class ShardDataset(IterableDataset):
    """Streams (image uint8 HWC RGB, row dict) from shards, split across ranks and loader workers.

    Each rank reads every `world_size`-th shard starting at its rank; within a rank each DataLoader
    worker reads every `num_workers`-th of those. Ranks get whole shards, so their sample counts
    differ by up to one shard: with DDP, use as many shards per rank as possible and stop epochs by
    step count (or pack shard counts that divide evenly).
    """

    def __init__(self, source, rank: int | None = None, world_size: int | None = None,
                 shuffle_shards: bool = False, seed: int = 0, decode: bool = True):
        self.shards = shard_list(source)
        self.rank, self.world_size = distributed_defaults(rank, world_size)
        if len(self.shards) < self.world_size:
            raise FaceBehaviorError(f"{len(self.shards)} shard(s) cannot feed {self.world_size} ranks; "
                                    "pack again with a smaller --shard-size")
        self.shuffle_shards, self.seed, self.decode = shuffle_shards, seed, decode
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle the shard order (the same on every rank, so the split stays disjoint)."""
        self.epoch = epoch

    def my_shards(self) -> list[Path]:
        order = list(self.shards)
        if self.shuffle_shards:
            random.Random(self.seed + self.epoch).shuffle(order)
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        return split_shards(order, self.rank, self.world_size, worker, workers)

    def __iter__(self):
        for path in self.my_shards():
            yield from iter_samples(path, self.decode)
