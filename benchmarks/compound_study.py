"""Compound expressions on SynthFace: zero-shot vs few-shot vs from scratch, with and without coupling.

    .venv/bin/python benchmarks/compound_study.py                    # trains two small models first
    .venv/bin/python benchmarks/compound_study.py --checkpoint coupling=runs/demo/.../best \\
        --checkpoint no_coupling=runs/demo/.../best                  # models from the affect demo

Without --checkpoint it generates (or reuses) the SynthFace affect preset (scale 1, 64×64, the
demo's data) and trains two tiny fbn networks on it with `train()` and the affect demo's CPU recipe
(one with soft co-annotation + distribution matching, one without). On the quick preset (scale 0.2)
a few epochs leave the tiny network at chance level, so the study defaults to the full one. It
then renders the study's compound set and runs `facebehavior.compound.study.run_compound_study`.
Outputs: benchmarks/results/compound_study.json, .md and .png (details per model under --runs);
`--replot` redraws the .md and .png from the JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from facebehavior.compound.fewshot import FinetuneSettings
from facebehavior.compound.study import make_study_set, run_compound_study
from facebehavior.config import load_config
from facebehavior.data.synthface import generate_preset, read_preset
from facebehavior.training.trainer import train

COUPLING = {"multiclass": "expr", "multilabel": "au", "relatedness": "du2014",
            "soft_coannotation": {"enabled": True}, "distribution_matching": {"enabled": True}}


def base_config(data: Path, out: Path, coupling: bool, epochs: int, seed: int) -> dict:
    """A tiny fbn on every training database of the preset, with or without the paper's best coupling
    (the recipe of `facebehavior demo --study affect`: AdamW 3e-3, cosine, batch 192)."""
    preset = read_preset(data)
    manifests = [str(data / db["manifest"]) for db in preset["databases"] if db["role"] == "train"]
    return {
        "name": "coupling" if coupling else "no_coupling", "out_dir": str(out),
        "tasks": [{"name": "expr", "kind": "multiclass", "labels": "@expressions"},
                  {"name": "au", "kind": "multilabel", "labels": "@aus"},
                  {"name": "va", "kind": "regression", "labels": "@va", "range": [-1, 1]}],
        "data": {"train": manifests, "image_size": preset["size"], "batch_size": 192, "num_workers": 0,
                 "cache": "memory"},
        "model": {"backbone": "fbn", "preset": "tiny"},
        "coupling": [COUPLING] if coupling else [],
        "train": {"epochs": epochs, "optimizer": "adamw", "lr": 3e-3, "weight_decay": 1e-4, "schedule": "cosine",
                  "warmup_steps": 20, "threads": 1, "progress": False, "seed": seed, "log_every": 50},
    }


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH",
                   help="use existing checkpoints instead of training (repeatable)")
    p.add_argument("--data", default=".cache/synthface/affect", help="SynthFace affect preset folder")
    p.add_argument("--scale", type=float, default=1.0, help="SynthFace scale of the preset (0.2 = quick)")
    p.add_argument("--study-set", default=".cache/synthface/compound_study", help="the study's compound set")
    p.add_argument("--runs", default="runs/compound_study", help="trained models and per-model details")
    p.add_argument("--out", default="benchmarks/results", help="where compound_study.{json,md,png} go")
    p.add_argument("--epochs", type=int, default=6, help="epochs of the two base models")
    p.add_argument("--shots", default="1,5,10,50,all")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--ft-epochs", type=int, default=20, help="fine-tuning passes over the k-shot set")
    p.add_argument("--freeze", default="none", choices=["none", "backbone", "all_but_last_stage"])
    p.add_argument("--per-class-train", type=int, default=100)
    p.add_argument("--per-class-test", type=int, default=60)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--replot", action="store_true",
                   help="only redraw compound_study.md/.png from --out's compound_study.json (no training)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.replot:
        from facebehavior.compound.study import write_study

        results = json.loads((Path(args.out) / "compound_study.json").read_text())
        print(f"redrew {', '.join(str(p) for p in write_study(results, args.out).values())}")
        return 0
    torch.set_num_threads(args.threads)
    t0 = time.time()
    checkpoints = dict(c.split("=", 1) for c in args.checkpoint)
    if not checkpoints:
        data = Path(args.data)
        generate_preset("affect", data, size=64, seed=0, scale=args.scale, workers=1)
        for coupling in (True, False):
            cfg = load_config(base=base_config(data, Path(args.runs) / ("coupling" if coupling else "no_coupling"),
                                               coupling, args.epochs, seed=0))
            result = train(cfg, say=print)
            print(f"trained {cfg.name} in {result.seconds:.0f} s: best selection score {result.best_score}")
            checkpoints[cfg.name] = str(result.best_checkpoint)
    manifest = make_study_set(args.study_set, args.per_class_train, args.per_class_test)
    shots = [None if s == "all" else int(s) for s in args.shots.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    settings = FinetuneSettings(freeze=args.freeze, epochs=args.ft_epochs)
    results = run_compound_study(checkpoints, manifest, Path(args.runs) / "study", shots=shots, seeds=seeds,
                                 settings=settings)
    from facebehavior.compound.study import write_study

    results["command"] = "python benchmarks/compound_study.py " + " ".join(argv if argv is not None else sys.argv[1:])
    results["total_seconds"] = round(time.time() - t0, 1)
    written = write_study(results, args.out)
    print(written["markdown"].read_text())
    print(f"wrote {', '.join(str(p) for p in written.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
