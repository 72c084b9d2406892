"""gather_arrays across two gloo processes, and its identity path without distributed."""

import socket

import numpy as np
import pytest

from facebehavior.errors import FaceBehaviorError
from facebehavior.evaluation.gather import gather_arrays


def _local(rank: int) -> dict:
    n = 3 if rank == 0 else 5  # ranks hold different numbers of rows
    start = 0 if rank == 0 else 2  # rows 2 appears on both ranks, as DistributedSampler padding does
    index = np.arange(start, start + n)
    return {
        "index": index,
        "scores": np.stack([index * 1.5, -index], axis=1).astype(np.float32),
        "flags": index % 2 == 0,
        "database": np.array([f"db{rank}-{i}" for i in index]),
    }


def _worker(rank: int, port: int, out_dir: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        full = gather_arrays(_local(rank))
        unique = gather_arrays(_local(rank), unique_by="index")
        if rank == 0:
            np.savez(f"{out_dir}/full.npz", **full)
            np.savez(f"{out_dir}/unique.npz", **unique)
        empty = gather_arrays({"x": np.zeros((0, 3), np.float32), "y": np.zeros((rank, 2), np.float32)})
        assert empty["x"].shape == (0, 3) and empty["y"].shape == (1, 2)
        with pytest.raises(FaceBehaviorError, match="same keys"):
            gather_arrays({"x": np.zeros((2, rank + 1))})  # trailing shapes differ across ranks
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # trains, or spawns processes (make test-fast leaves it out)
def test_gather_two_gloo_processes(tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    full = np.load(tmp_path / "full.npz")
    expected = [_local(0), _local(1)]
    for key in ("index", "scores", "flags", "database"):
        np.testing.assert_array_equal(full[key], np.concatenate([e[key] for e in expected]))
    assert full["scores"].dtype == np.float32 and full["flags"].dtype == np.bool_
    unique = np.load(tmp_path / "unique.npz")
    np.testing.assert_array_equal(unique["index"], np.arange(7))
    assert unique["database"][2] == "db0-2"  # the first copy is kept


def test_identity_without_distributed():
    local = _local(1)
    out = gather_arrays(local)
    for key in local:
        np.testing.assert_array_equal(out[key], local[key])
    with pytest.raises(FaceBehaviorError, match="scalar"):
        gather_arrays({"x": np.float32(1.0)})
    with pytest.raises(FaceBehaviorError, match="unique_by"):
        gather_arrays(local, unique_by="missing")
