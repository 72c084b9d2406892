"""Data pipeline throughput: detection, decode + align, decode from shards, augmentation, vs training.

    .venv/bin/python benchmarks/bench_data.py [--images 512] [--out benchmarks/results/bench_data.json]

Uses FER+ test images from ../shared when present, else generated images with drawn faces
(detection numbers are then meaningless and marked so). Prints a table and writes JSON.
The DataLoader rows (1 and 2 worker processes) are steady-state: workers start before timing.
The `prepare` rows include starting its worker processes, as a user sees it. Augmentation is
timed as the trainer runs it (training_input: uint8 batch → augmented channels_last floats, on the
training thread, with the thread count recorded in benchmarks/results/bench_step.json) for the
demo's flip + mild photometric config and the default full geometric one. The closing table sets
what the data side delivers against what the training step consumes (forward, losses, backward,
optimiser: bench_step.json's median step without its data and augment phases; run
benchmarks/bench_step.py first), so a user sees whether data is the bottleneck. On a shared
2-core machine the numbers move with other load (the JSON records the load average), so compare
rows of one run, not runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from benchlib import machine, write_result  # benchmarks/benchlib.py

import cv2
import numpy as np
import pandas as pd
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from facebehavior.data.faces import align_face, get_detector, resize_aligned  # noqa: E402
from facebehavior.data.faces.io import read_image  # noqa: E402
from facebehavior.data.manifest import read_manifest, write_manifest  # noqa: E402
from facebehavior.config import AugmentConfig  # noqa: E402
from facebehavior.data.datasets import ImageTable  # noqa: E402
from facebehavior.data.prepare import PrepareOptions, prepare_manifest  # noqa: E402
from facebehavior.data.transforms import make_generator, training_input  # noqa: E402
from facebehavior.training.data import CachedBatches  # noqa: E402
from facebehavior.data.shards import ShardDataset, collate_samples, pack_shards  # noqa: E402
from facebehavior.labels import affect_tasks  # noqa: E402

TASKS = affect_tasks()
SIZE = 112
STEP_JSON = REPO / "benchmarks" / "results" / "bench_step.json"
# bench_step cases: input size, batch, and the data path their configs use
MODELS = {"tiny@64": (64, 376, "memory cache (DataLoader, main thread)"),
          "paper@112": (112, 94, "folder: decode cached 112x112 crops, 1 worker")}
AUGMENTS = {"demo": AugmentConfig(scale=[1.0, 1.0], rotate_deg=0.0, translate=0.0, brightness=0.1, contrast=0.1),
            "default": AugmentConfig()}


def source_images(n: int, scratch: Path) -> tuple[list[Path], str]:
    shared = Path(os.environ.get("FACEBEHAVIOR_SHARED", REPO / ".." / "shared"))
    fer = sorted((shared / "data" / "ferplus" / "FER2013Test").glob("*.png"))[:n]
    if len(fer) == n:
        return fer, "FER+ test crops (48x48 gray)"
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):  # a rough drawn face: the pipeline cost does not depend on realism
        image = np.full((96, 96, 3), rng.integers(90, 200), np.uint8)
        cv2.ellipse(image, (48, 50), (30, 40), 0, 0, 360, (180, 150, 130), -1)
        for x in (36, 60):
            cv2.circle(image, (x, 40), 4, (30, 30, 30), -1)
        cv2.ellipse(image, (48, 70), (12, 5), 0, 0, 180, (60, 20, 20), 2)
        paths.append(scratch / f"gen{i:05d}.png")
        cv2.imwrite(str(paths[-1]), image)
    return paths, "generated 96x96 drawings (detection rows not meaningful)"


class FolderAlign(torch.utils.data.Dataset):
    """Decode the source image and align it with known landmarks (the training-time cost without a cache)."""

    def __init__(self, paths: list[str], landmarks: list[np.ndarray | None]):
        self.paths, self.landmarks = paths, landmarks

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        image = read_image(self.paths[i])
        marks = self.landmarks[i]
        crop = align_face(image, marks, SIZE) if marks is not None else resize_aligned(image, SIZE)
        return torch.from_numpy(crop)


class FolderCrops(FolderAlign):
    """Decode cached aligned crops (+ resize if needed)."""

    def __getitem__(self, i):
        return torch.from_numpy(resize_aligned(read_image(self.paths[i]), SIZE))


def images_per_second(dataset, workers: int, collate=None, epochs: int = 3) -> float:
    """Steady-state rate: a warm-up pass starts the (persistent) workers; the best of `epochs` timed
    passes, since other load on a shared machine only ever slows a pass down."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=64, num_workers=workers, collate_fn=collate,
                                         persistent_workers=True)
    for _ in loader:
        pass
    best = 0.0
    for _ in range(epochs):
        count, started = 0, time.perf_counter()
        for batch in loader:
            count += len(batch[0] if isinstance(batch, tuple) else batch)
        best = max(best, count / (time.perf_counter() - started))
    return best


def memory_cache_rate(manifest, size: int, batch: int, repeats: int = 5) -> float:
    """The trainer's hand-off with `data.cache: memory` (training/data.py): one gather per batch of
    random rows from the decoded cache, through the DataLoader on the main thread (best of `repeats`
    passes)."""
    table = ImageTable(manifest, TASKS, size)
    table.cache_in_memory()
    rng = np.random.default_rng(0)
    batches = [rng.choice(len(table), batch).tolist() for _ in range(4)]
    loader = torch.utils.data.DataLoader(CachedBatches(table), batch_sampler=batches, num_workers=0,
                                         collate_fn=lambda batch: batch)
    best = 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        count = sum(len(idx) for _, idx in loader)
        best = max(best, count / (time.perf_counter() - started))
    return best


def augmentation_rate(size: int, batch: int, cfg: AugmentConfig, repeats: int = 7) -> float:
    """Images/s of the trainer's augmentation lines on a uint8 batch (best of `repeats`)."""
    pixels = np.random.default_rng(0).integers(0, 255, (batch, size, size, 3), dtype=np.uint8)
    images = torch.from_numpy(pixels).permute(0, 3, 1, 2)  # channels_last, as the in-memory cache hands them over
    best = 0.0
    for step in range(repeats + 1):  # one warm-up
        started = time.perf_counter()
        training_input(images, cfg, make_generator(0, step), torch.channels_last)
        if step:
            best = max(best, batch / (time.perf_counter() - started))
    return best


def data_vs_training(rows: list[dict], manifest, step_json: Path) -> list[dict]:
    """Per bench_step case: loader and augmentation rates against the training step's consumption."""
    step = json.loads(step_json.read_text()) if step_json.exists() else {}
    cases = {r.get("name"): r for r in step.get("results", [])}
    step_machine = step.get("machine")
    threads = step_machine.get("threads", 2) if isinstance(step_machine, dict) else 2  # the trainer's default here
    out = []
    for name, (size, batch, path) in MODELS.items():
        loader = (memory_cache_rate(manifest, size, batch) if path.startswith("memory") else
                  next(r["images_per_s"] for r in rows if path.startswith(r["stage"]) and r["workers"] == 1))
        torch.set_num_threads(threads)
        augment = {k: augmentation_rate(size, batch, cfg) for k, cfg in AUGMENTS.items()}
        torch.set_num_threads(1)
        ms = cases.get(name, {}).get("median_ms")
        train = batch / ((ms["step"] - ms["data"] - ms["augment"]) / 1000) if ms else None
        row = {"model": name, "input": size, "batch": batch, "loader": path, "loader_images_per_s": round(loader, 1),
               "augment_threads": threads, **{f"augment_{k}_images_per_s": round(v, 1) for k, v in augment.items()}}
        for k, v in augment.items():  # loader and augmentation one after the other on the training thread
            row[f"data_{k}_images_per_s"] = round(1 / (1 / loader + 1 / v), 1)
        row["training_images_per_s"] = round(train, 1) if train else None
        if train:
            row.update({f"data_{k}_over_training": round(row[f"data_{k}_images_per_s"] / train, 1) for k in augment})
        out.append(row)
    return out


def detection_latency(repeats: int = 7) -> dict:
    """Best-of-`repeats` milliseconds per image (the least disturbed by other load)."""
    from skimage import data as skdata  # test extra; the astronaut is a real 512×512 portrait

    detector = get_detector("mtcnn")
    astronaut = skdata.astronaut()
    out = {}
    for name, image in (("astronaut_512x512", astronaut), ("astronaut_640x480", cv2.resize(astronaut, (640, 480)))):
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            detector.detect(image)
            times.append(time.perf_counter() - started)
        out[name] = round(min(times) * 1000, 1)
    return out


TIGHT_CROP_SETTINGS = {
    "no padding, no upscaling": {"small_side": 1},
    "default (pad 25%, upscale to 160 px)": {},
    "default + thresholds 0.6,0.6,0.6 + scale_factor 0.8": {"thresholds": (0.6, 0.6, 0.6), "scale_factor": 0.8},
}


def tight_crop_detection(paths: list[Path]) -> dict:
    """How many FER+ crops MTCNN finds a face in, per small-image setting (the docs/faces.md table)."""
    images = [read_image(p) for p in paths]
    out = {}
    for name, options in TIGHT_CROP_SETTINGS.items():
        detector = get_detector("mtcnn", **options)
        started = time.perf_counter()
        found = sum(bool(detector.detect(image)) for image in images)
        out[name] = {"found": found, "of": len(images),
                     "ms_per_image": round((time.perf_counter() - started) / len(images) * 1000, 1)}
    return out


def print_versus(versus: list[dict], step_json: str) -> None:
    print("data vs training, images/s (augmentation with "
          f"{versus[0]['augment_threads'] if versus else '?'} threads; training from {step_json}):")
    print(f"{'model':10s} {'loader':>8s} {'aug demo':>9s} {'aug dflt':>9s} {'data demo':>10s} {'data dflt':>10s} "
          f"{'training':>9s}")
    for r in versus:
        train = r["training_images_per_s"]
        print(f"{r['model']:10s} {r['loader_images_per_s']:8.0f} {r['augment_demo_images_per_s']:9.0f} "
              f"{r['augment_default_images_per_s']:9.0f} {r['data_demo_images_per_s']:10.0f} "
              f"{r['data_default_images_per_s']:10.0f} {train if train else float('nan'):9.0f}")
        if train:
            worst = r["data_default_images_per_s"]
            verdict = "data is not the bottleneck" if worst > train else "DATA IS THE BOTTLENECK"
            print(f"  {r['model']}: {verdict} (data delivers {worst / train:.1f}× what training consumes with the "
                  f"default augmentation; on the training thread it adds {train / worst:.0%} to the model's step)")
        else:
            print(f"  {r['model']}: no {r['model']} case in {step_json}; run benchmarks/bench_step.py first")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--tight-crops", type=int, default=300, help="FER+ crops for the detection-rate table")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "bench_data.json"))
    parser.add_argument("--step-json", default=str(STEP_JSON), help="bench_step.py results to compare against")
    args = parser.parse_args()
    torch.set_num_threads(1)
    load_before = os.getloadavg()[0]
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        paths, source = source_images(args.images, scratch)
        frame = pd.DataFrame({"path": [str(p) for p in paths], "database": "bench", "split": "train"})
        write_manifest(frame, scratch / "in.csv")
        manifest = read_manifest(scratch / "in.csv", TASKS)
        prepared = {}
        for workers in (1, 2):
            out = scratch / f"prepared{workers}"
            report = prepare_manifest(manifest, out, PrepareOptions(workers=workers, no_face="center", progress=False))
            rows.append({"stage": "detect+align (data prepare, MTCNN; incl. start)", "workers": workers,
                         "images_per_s": round(report["processed_now"] / report["seconds"], 1)})
            prepared = report
        crops = read_manifest(prepared["output_manifest"], TASKS)
        marks = [np.array(t.split(), float).reshape(5, 2) for t in crops.frame["landmarks"]]
        sources = crops.frame["source_path"].tolist()
        pack_shards(crops, scratch / "shards", TASKS, shard_size=64, progress=False)
        for workers in (1, 2):
            rows.append({"stage": "folder: decode + align (known landmarks)", "workers": workers,
                         "images_per_s": round(images_per_second(FolderAlign(sources, marks), workers), 1)})
            rows.append({"stage": "folder: decode cached 112x112 crops", "workers": workers,
                         "images_per_s": round(images_per_second(
                             FolderCrops([str(p) for p in crops.image_paths()], marks), workers), 1)})
            rows.append({"stage": "shards: stream + decode 112x112 crops", "workers": workers,
                         "images_per_s": round(images_per_second(
                             ShardDataset(scratch / "shards", rank=0, world_size=1), workers, collate_samples), 1)})
        versus = data_vs_training(rows, crops, Path(args.step_json))
    latency = detection_latency()
    tight = tight_crop_detection(paths[: args.tight_crops]) if source.startswith("FER+") and args.tight_crops else {}
    result = {
        "images": args.images, "source": source, "detected": prepared["landmark_sources"],
        "rows": rows, "data_vs_training": versus,
        "data_vs_training_note": ("images/s; data_* = loader then augmentation on one thread; training = the "
                                  f"{Path(args.step_json).name} step without its data and augment phases"),
        "mtcnn_ms_per_image": latency, "ferplus_tight_crop_detection": tight,
        "machine": machine(torch=torch.__version__, opencv=cv2.__version__,
                           load_average_1min_before_after=[round(load_before, 2), round(os.getloadavg()[0], 2)]),
    }
    print(f"{args.images} images: {source}; 1-min load average before/after: "
          f"{load_before:.1f}/{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'stage':48s} {'workers':>7s} {'images/s':>10s}")
    for row in rows:
        print(f"{row['stage']:48s} {row['workers']:7d} {row['images_per_s']:10.1f}")
    print_versus(versus, args.step_json)
    print("MTCNN per image (1 thread, best of 7): " + ", ".join(f"{k} {v} ms" for k, v in latency.items()))
    for name, r in tight.items():
        print(f"FER+ faces found, {name}: {r['found']}/{r['of']} ({r['ms_per_image']} ms/image)")
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
