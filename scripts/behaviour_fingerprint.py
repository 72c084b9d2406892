"""A fingerprint of what the toolkit computes, to show that a refactor changed nothing.

    python scripts/behaviour_fingerprint.py --out before.json            # before moving code
    python scripts/behaviour_fingerprint.py --out after.json --compare before.json

Runs through the command line only (so it works whichever modules hold the code): renders a small
SynthFace preset, trains a tiny coupled network for 2 epochs (one thread, fixed seed), evaluates it,
exports it to ONNX, and analyses three SynthFace images and a real photo with it. The fingerprint is
the SHA-256 of every generated image, of every weight tensor, each logged loss value, every metric,
and the analysed table (timings left out, they are the only things that may differ). `--compare`
names every field that differs and exits 1 if any does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

FB = [sys.executable, "-m", "facebehavior"]


def run(*args: str) -> None:
    done = subprocess.run([*FB, *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"facebehavior {' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def fingerprint(work: Path) -> dict:
    import yaml
    from safetensors.numpy import load_file

    data = work / "synth"
    run("synth", "--preset", "affect", "--out", str(data), "--size", "32", "--scale", "0.03", "--workers", "1")
    images = sorted(p for p in data.rglob("*.png"))
    manifests = sorted(str(p) for p in data.glob("*/manifest.csv"))
    cfg = {
        "name": "fingerprint", "out_dir": str(work / "run"),
        "tasks": [{"name": "expr", "kind": "multiclass", "labels": "@expressions"},
                  {"name": "au", "kind": "multilabel", "labels": "@aus"},
                  {"name": "va", "kind": "regression", "labels": "@va", "range": [-1, 1]}],
        "data": {"train": manifests, "image_size": 32, "batch_size": 30, "num_workers": 0, "cache": "memory"},
        "model": {"backbone": "fbn", "preset": "tiny", "widths": [8, 16, 16, 16]},
        "coupling": [{"multiclass": "expr", "multilabel": "au", "relatedness": "du2014",
                      "soft_coannotation": {"enabled": True}, "distribution_matching": {"enabled": True}}],
        "train": {"epochs": 2, "lr": 0.01, "progress": False, "log_every": 1, "threads": 1, "seed": 0},
    }
    (work / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    run("train", "-c", str(work / "cfg.yaml"), "--device", "cpu")
    best = work / "run" / "checkpoints" / "best"
    weights = load_file(str(best / "model.safetensors"))
    log = [json.loads(line) for line in (work / "run" / "log.jsonl").read_text().splitlines()]
    losses = [{k: v for k, v in r.items() if k.startswith(("loss/", "step", "select", "eval/"))} for r in log]
    run("export", str(best), "--format", "onnx", "--out", str(work / "model.onnx"))
    photo = work / "astronaut.jpg"
    from skimage import data as skdata
    import cv2

    cv2.imwrite(str(photo), cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR))
    inputs = [str(p) for p in images[:3]] + [str(photo)]
    run("analyze", *inputs, "--checkpoint", str(best), "--out", str(work / "analyzed.csv"), "--no-progress",
        "--threads", "1")
    run("analyze", *inputs, "--checkpoint", str(work / "model.onnx"), "--backend", "onnxruntime",
        "--out", str(work / "analyzed_onnx.csv"), "--no-progress", "--threads", "1")
    import pandas as pd

    def table(path: Path) -> str:
        t = pd.read_csv(path).sort_values(["source", "face_index"])
        t["source"] = t["source"].map(lambda s: Path(s).name)
        return sha(t.round(6).to_csv(index=False).encode())

    return {
        "images": sha(b"".join(p.read_bytes() for p in images)), "n_images": len(images),
        "weights": {k: sha(np.ascontiguousarray(v).tobytes()) for k, v in sorted(weights.items())},
        "log": losses,
        "analyze": table(work / "analyzed.csv"), "analyze_onnx": table(work / "analyzed_onnx.csv"),
    }


def differences(a: dict, b: dict, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in differences(a.get(k), b.get(k), f"{path}/{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="where the fingerprint JSON goes")
    ap.add_argument("--compare", help="an earlier fingerprint: list what differs, exit 1 if anything does")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        got = fingerprint(Path(work))
    got["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    Path(args.out).write_text(json.dumps(got, indent=1))
    print(f"fingerprint of {got['n_images']} images, {len(got['weights'])} weight tensors, {len(got['log'])} log "
          f"records and two analysed tables -> {args.out}")
    if args.compare:
        before = json.loads(Path(args.compare).read_text())
        diff = [d for d in differences(before, got) if not d.startswith("/commit")]
        print("\n".join(diff) if diff else f"identical to {args.compare}")
        return 1 if diff else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
