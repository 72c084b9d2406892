"""The shipped expression model, re-evaluated from the package's own weights: FER+ valid and test
(8 classes, Barsoum's majority protocol, and the canonical 7), and its speed on this CPU beside the
previous recipe network's.

Independent of the test suite: anyone with the FER+ folder can run it.

    python benchmarks/ferplus_shipped.py --data ../shared/data/ferplus

Prints a table and writes benchmarks/results/ferplus_shipped.json. Speed is the network alone on
aligned crops (what `analyze` runs after detection), faces/s over batches of 64 and of 1, PyTorch
and ONNX Runtime, 1 and 2 threads; the previous network (`small` preset with a stride-2 stem, the
CPU recipe before) is timed with the same code on random weights (speed does not depend on them);
`--before CKPT` times one more checkpoint beside them (e.g. a copy of the model shipped before).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine, write_result  # noqa: E402


def accuracy_table(checkpoint: Path, data_root: str, work: Path) -> dict:
    from facebehavior.studies.ferplus import prepare_data
    from facebehavior.studies.ferplus_report import evaluate_ferplus

    data = prepare_data(data_root, work / "data", say=lambda *_: None)
    out = {}
    for split in ("val", "test"):
        r = evaluate_ferplus(checkpoint, data.full, work / split, split=split)
        out[split] = {name: {k: m[k] for k in ("n_majority", "accuracy", "mean_diag", "macro_f1",
                                                "per_class_recall", "support", "vote_cross_entropy")}
                      for name, m in r["protocols"].items()}
        out["preprocessing"] = r["preprocessing"]
    return out


def faces_per_second(fn, crops: np.ndarray, batch: int, seconds: float = 3.0) -> float:
    fn(crops[:batch])  # warm-up
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn(crops[:batch])
        done += batch
    return done / (time.perf_counter() - start)


def speed_rows(checkpoint: Path, before: Path | None = None) -> list[dict]:
    """faces/s of the shipped model, of the previous recipe's network and, given `before` (e.g. a copy
    of the model shipped before this one), of that checkpoint too: same code, same process."""
    import torch

    from facebehavior.models.checkpoint import read_meta

    record = read_meta(checkpoint).input_record()
    size = record.image_size
    crops = np.random.default_rng(0).integers(0, 256, (64, size, size, 3), dtype=np.uint8)
    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        shipped_torch, shipped_onnx = _runners(checkpoint, threads)
        previous = _previous_network(size)
        if before is not None:
            before_torch, before_onnx = _runners(before, threads)
        for batch in (64, 1):
            row = {"threads": threads, "batch": batch,
                   "shipped_torch": faces_per_second(shipped_torch, crops, batch),
                   "shipped_onnx": faces_per_second(shipped_onnx, crops, batch),
                   "previous_torch": faces_per_second(previous, crops, batch),
                   "flip_average": record.flip_average}
            if before is not None:
                row["before_torch"] = faces_per_second(before_torch, crops, batch)
                row["before_onnx"] = faces_per_second(before_onnx, crops, batch)
            rows.append(row)
    return rows


def _runners(checkpoint: Path, threads: int):
    """(PyTorch, ONNX Runtime) callables on uint8 crops for one checkpoint, on `threads` threads."""
    from facebehavior.inference.backends import load_backend
    from facebehavior.inference.onnx_export import INPUT_NAME, export_onnx_bytes, onnx_session

    torch_backend = load_backend(checkpoint, "torch", threads=threads)
    session = onnx_session(export_onnx_bytes(checkpoint)[0], threads)
    return torch_backend.run, (lambda crops: session.run(None, {INPUT_NAME: crops}))


def _previous_network(size: int):
    """The CPU recipe's network before this model (small preset, stride-2 stem), as a callable on crops."""
    import torch

    from facebehavior.labels import TaskSpec
    from facebehavior.models.multitask import MultiTaskNet
    from facebehavior.models.fbn import create_fbn
    from facebehavior.models.preprocessing import Preprocessing, normalize

    backbone, features = create_fbn("small")
    net = MultiTaskNet(backbone, features, [TaskSpec("expr", "multiclass", tuple("abcdefg"))]).eval()

    def run(crops):
        with torch.inference_mode():
            return net(normalize(torch.from_numpy(crops).permute(0, 3, 1, 2), Preprocessing()))["expr"].softmax(1)
    return run


def main() -> None:
    from facebehavior.models.pretrained import DEFAULT, resolve_checkpoint

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="../shared/data/ferplus", help="FER+ folder (FER2013Train/Valid/Test)")
    ap.add_argument("--model", default=DEFAULT, help="shipped model name or checkpoint folder")
    ap.add_argument("--before", default=None,
                    help="a checkpoint folder (e.g. a copy of the model shipped before) timed beside the shipped one")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "ferplus_shipped.json"))
    args = ap.parse_args()
    checkpoint = resolve_checkpoint(args.model)
    with tempfile.TemporaryDirectory() as work:
        acc = accuracy_table(checkpoint, args.data, Path(work))
    speed = speed_rows(checkpoint, Path(args.before) if args.before else None)
    print(f"model {args.model} ({checkpoint}); preprocessing {acc['preprocessing']}")
    print(f"{'split':6} {'protocol':26} {'n':>5} {'accuracy':>9} {'mean rec':>9} {'macro F1':>9}")
    for split in ("val", "test"):
        for name, m in acc[split].items():
            print(f"{split:6} {name:26} {m['n_majority']:5d} {100 * m['accuracy']:8.2f}% "
                  f"{100 * m['mean_diag']:8.2f}% {100 * m['macro_f1']:8.2f}%")
    print(f"\n{'threads':>7} {'batch':>5} {'shipped torch':>14} {'shipped onnx':>13} {'previous torch':>15} "
          f"{'before torch':>13} {'before onnx':>12}  (faces/s)")
    for r in speed:
        extra = f" {r['before_torch']:13.0f} {r['before_onnx']:12.0f}" if "before_torch" in r else ""
        print(f"{r['threads']:7d} {r['batch']:5d} {r['shipped_torch']:14.0f} {r['shipped_onnx']:13.0f} "
              f"{r['previous_torch']:15.0f}{extra}")
    write_result(args.out, {"command": "python benchmarks/ferplus_shipped.py " + " ".join(sys.argv[1:]),
                            "model": args.model, "checkpoint": str(checkpoint), "accuracy": acc, "speed": speed,
                            "machine": machine()})


if __name__ == "__main__":
    main()
