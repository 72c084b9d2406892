"""Where a training step's time goes, measured on the trainer's own code path.

The step is the trainer's own loop body, `facebehavior.training.step.optimisation_step` (data hand-off
from the real DataLoader over an in-memory image cache, augmentation into a channels_last input,
label assembly, forward, objective with coupling, backward, optimiser + scheduler, the finite-loss
check; not the every-`log_every` logging), timed through its `mark` hook. Its baseline, "bare", is forward +
backward alone on the same batch, the same channels_last model and the same thread count, with no
optimiser step (the optimiser counts as overhead).

Targets (issue 2): step / bare ≤ 1.10, and all coupling losses together ≤ 5% of the step.
Step and bare alternate, so each pair sees the same load; the ratio is the median over `--repeats`
pairs of step / bare, which a single lucky (or unlucky) pass cannot move much, printed with the
quartiles of the per-pair ratios: the target counts as met only when the upper quartile is within
it. The fastest step (the table shows its phases) over the fastest bare pass, and the same for
process CPU time, are printed as checks on the noise. Shares (coupling, overhead) use medians.
Prints a table, writes benchmarks/results/bench_step.json.
Also counted: minor page faults per step and per bare pass (memory the OS had to map in again);
`--system-malloc` runs with glibc's default allocator behaviour instead of train.reuse_freed_memory.
Task balancing (issue 21): `--balancing none uncertainty pcgrad` runs each case once per
`train.balancing` method and prints each method's step over the plain step (`none`, medians) and,
for the gradient-level method, its backward phase over the plain backward: the factor its per-objective
backward passes cost (PCGrad differentiates each present task and each coupling term separately).
Run: .venv/bin/python benchmarks/bench_step.py [--repeats 8] [--threads N] [--device cuda] [--system-malloc] [--only CASE ...]
     [--balancing METHOD ...]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

from benchlib import machine, write_result  # benchmarks/benchlib.py

import numpy as np
import pandas as pd
import torch
from PIL import Image

from facebehavior.config import ExperimentConfig, from_dict
from facebehavior.losses.objective import MultiTaskObjective
from facebehavior.training.coupling_setup import build_couplings
from facebehavior.training.data import build_training_data, label_arrays_numpy
from facebehavior.training.memory import keep_freed_memory
from facebehavior.training.step import PHASES as STEP_PHASES, build_step_parts, optimisation_step

SETS = {"au": 200, "va": 124, "expr": 52}  # the paper's batch composition (section 4.4)
PER_SET = 600  # images per label set: several steps per epoch, so epoch turnover is in the timing
AUGMENT = {
    "default": {},  # AugmentConfig's defaults: flip, scale, rotation, translation, brightness/contrast
    "demo": {"flip": True, "scale": [1.0, 1.0], "rotate_deg": 0.0, "translate": 0.0,  # facebehavior demo
             "brightness": 0.1, "contrast": 0.1},
}
PHASES = ("data", *STEP_PHASES)


def write_dataset(root: Path, size: int) -> Path:
    """PNG images and a manifest: one database per label set, as in the paper's affect study."""
    rng = np.random.default_rng(0)
    (root / "img").mkdir(parents=True)
    rows = []
    for i in range(3 * PER_SET):
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(root / "img" / f"{i}.png")
        row = {"path": f"img/{i}.png", "split": "train"}
        kind = ("expr", "au", "va")[i % 3]
        if kind == "expr":
            row.update(database="db_expr", expr=int(rng.integers(7)))
        elif kind == "au":
            row.update(database="db_au", **{f"au{a}": int(rng.integers(2)) for a in (1, 2, 4, 6, 12, 25)})
        else:
            row.update(database="db_va", valence=float(rng.uniform(-1, 1)), arousal=float(rng.uniform(-1, 1)))
        rows.append(row)
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    return root / "manifest.csv"


def experiment(manifest: Path, size: int, preset: str, scale: float, augment: dict,
               device: str = "cpu", reuse_freed_memory: bool = True, balancing: str = "none") -> ExperimentConfig:
    sizes = {name: max(1, int(b * scale)) for name, b in SETS.items()}
    return from_dict(ExperimentConfig, {
        "name": "bench_step",
        "tasks": [{"name": "expr", "kind": "multiclass", "labels": "@expressions"},
                  {"name": "au", "kind": "multilabel", "labels": "@aus"},
                  {"name": "va", "kind": "regression", "labels": "@va", "range": [-1, 1]}],
        "data": {"train": [str(manifest)], "image_size": size, "cache": "memory", "num_workers": 0,
                 "label_sets": [{"name": n, "databases": [f"db_{n}"], "batch_size": b} for n, b in sizes.items()],
                 "augment": augment},
        "model": {"backbone": "fbn", "preset": preset},
        "coupling": [{"multiclass": "expr", "multilabel": "au", "relatedness": "du2014",
                      "coannotation": {"enabled": True}, "soft_coannotation": {"enabled": True},
                      "distribution_matching": {"enabled": True}}],
        "train": {"device": device, "progress": False, "reuse_freed_memory": reuse_freed_memory,
                  "balancing": balancing},
    })


class Rig:
    """What `train` builds before its loop (one process, no AMP, on `train.device`), after its
    allocator setting, through the trainer's own `build_step_parts`."""

    def __init__(self, cfg: ExperimentConfig):
        self.cfg = cfg
        if cfg.train.reuse_freed_memory:
            keep_freed_memory()
        tasks = cfg.task_specs()
        self.data = build_training_data(cfg, tasks, 0, 1)
        couplings, _ = build_couplings(cfg, tasks, label_arrays_numpy(self.data.train))
        self.device = torch.device(cfg.train.device)
        self.parts = build_step_parts(cfg, tasks, self.data.train, couplings, self.device, 10**6)
        self.model, self.optimizer = self.parts.model, self.parts.optimizer
        self.task_only = MultiTaskObjective(tasks, []).to(self.device)
        self.model.train()

    def batches(self):
        epoch = 0
        while True:
            self.data.sampler.set_epoch(epoch)
            yield from self.data.loader
            epoch += 1


def clock(device: torch.device) -> float:
    """Wall time once the device has finished what was queued (CUDA runs asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def page_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def training_step(rig: Rig, batches, global_step: int) -> tuple[dict, torch.Tensor, dict, dict]:
    """The trainer's loop body (`optimisation_step`), with a clock reading as each phase ends."""
    stamps, cpu, faults = [clock(rig.device)], time.process_time(), page_faults()
    images, idx = next(batches)
    stamps.append(clock(rig.device))
    out = optimisation_step(rig.parts, images, idx, global_step, mark=lambda phase: stamps.append(clock(rig.device)))
    times = {phase: b - a for phase, a, b in zip(PHASES, stamps, stamps[1:])}
    times["step_cpu"] = time.process_time() - cpu
    times["step_faults"] = page_faults() - faults
    return times, out.x, {k: v.detach() for k, v in out.logits.items()}, out.labels


def bare_forward_backward(rig: Rig, x: torch.Tensor) -> tuple[float, float, int]:
    """Wall and CPU seconds and page faults of forward + backward alone (any scalar of the outputs: the
    same backward through the network as the real losses)."""
    started, cpu, faults = clock(rig.device), time.process_time(), page_faults()
    bare_pass(rig, x)
    return clock(rig.device) - started, time.process_time() - cpu, page_faults() - faults


def bare_pass(rig: Rig, x: torch.Tensor) -> None:
    """Forward + backward through the network on `x`, queued on the device (no synchronisation)."""
    out = rig.model(x)
    rig.optimizer.zero_grad(set_to_none=True)  # where the trainer does it: after the forward
    torch.cat([v.float() for v in out.values()], 1).mean().backward()


def bench(name: str, preset: str, size: int, scale: float, augment: str, repeats: int, root: Path,
          device: str = "cpu", reuse_freed_memory: bool = True, balancing: str = "none") -> dict:
    manifest = root / f"data{size}" / "manifest.csv"
    if not manifest.exists():
        write_dataset(manifest.parent, size)
    rig = Rig(experiment(manifest, size, preset, scale, AUGMENT[augment], device, reuse_freed_memory, balancing))
    batches = rig.batches()
    rows, x = [], None
    for step in range(repeats + 2):  # two warm-up steps
        if step % 2:  # alternate the order (bare on the previous batch), so neither always runs first
            bare = bare_forward_backward(rig, x)
            times, x, logits, labels = training_step(rig, batches, step)
        else:
            times, x, logits, labels = training_step(rig, batches, step)
            bare = bare_forward_backward(rig, x)
        started = clock(rig.device)
        rig.task_only(logits, labels)  # forward only, like the `losses` phase: coupling = the difference
        times.update(step=sum(times[p] for p in PHASES), bare=bare[0], bare_cpu=bare[1], bare_faults=bare[2],
                     task_losses=clock(rig.device) - started)
        if step >= 2:
            rows.append(times)
    faults = {"step": statistics.median(r.pop("step_faults") for r in rows),
              "bare": statistics.median(r.pop("bare_faults") for r in rows)}
    best = dict(min(rows, key=lambda r: r["step"]))  # the fastest whole step, with its own phases
    for key in ("bare", "bare_cpu", "task_losses", "step_cpu"):
        best[key] = min(r[key] for r in rows)
    ms = {k: round(v * 1000, 1) for k, v in best.items()}
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}  # shares: medians, steadier than one step
    ratios = [r["step"] / r["bare"] for r in rows]
    batch = sum(s.batch_size for s in rig.data.sampler.sets)
    return {"name": name if balancing == "none" else f"{name} {balancing}", "case": name, "balancing": balancing,
            "preset": preset, "input": size, "batch": batch, "augment": augment, "repeats": repeats,
            "best_ms": ms, "median_ms": {k: round(v * 1000, 1) for k, v in med.items()}, "page_faults_median": faults,
            "step_over_bare": round(statistics.median(ratios), 3),
            "step_over_bare_quartiles": [round(q, 3) for q in np.quantile(ratios, [0.25, 0.75])],
            "best_step_over_best_bare": round(best["step"] / best["bare"], 3),
            "cpu_time_best_step_over_best_bare": round(best["step_cpu"] / best["bare_cpu"], 3),
            "overhead_share_median": {k: round(med[k] / med["step"], 4) for k in PHASES if k not in ("forward", "backward")},
            "coupling_share": round(max(0.0, med["losses"] - med["task_losses"]) / med["step"], 4),
            "train_images_per_s": round(batch / med["step"], 1), "threads": torch.get_num_threads(),
            "channels_last": rig.cfg.train.channels_last, "reuse_freed_memory": rig.cfg.train.reuse_freed_memory}


CASES = [  # name, preset, input size, fraction of the paper's batch, augmentation
    ("tiny@64", "tiny", 64, 1.0, "default"),
    ("tiny@64 demo-aug", "tiny", 64, 1.0, "demo"),
    ("paper@112", "paper", 112, 0.25, "default"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=8, help="timed steps per case (paper: half, at least 3)")
    parser.add_argument("--only", nargs="*", help="case names to run (default: all)")
    parser.add_argument("--threads", type=int, help="train.threads (default: unset, torch's own choice)")
    parser.add_argument("--device", default="cpu", help="train.device, e.g. cuda (default: cpu); phases are "
                        "timed after a device synchronise")
    parser.add_argument("--system-malloc", action="store_true", help="train.reuse_freed_memory=false: glibc's "
                        "default allocator behaviour, which page-faults large blocks in again every step")
    parser.add_argument("--balancing", nargs="+", default=["none"], choices=["none", "uncertainty", "pcgrad"],
                        help="train.balancing methods to time per case (default: none); with several, each "
                        "method's step and backward over the plain ones")
    parser.add_argument("--out", default="benchmarks/results/bench_step.json")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: this machine has no CUDA device torch can use")
    if args.threads:
        torch.set_num_threads(args.threads)  # as the trainer does for train.threads
    load_before = os.getloadavg()[0]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, preset, size, scale, augment in CASES:
            if args.only and name not in args.only:
                continue
            repeats = args.repeats if preset == "tiny" else max(3, args.repeats // 2)
            for method in args.balancing:
                results.append(bench(name, preset, size, scale, augment, repeats, Path(tmp), args.device,
                                     not args.system_malloc, method))
    load = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    print(f"ms of the fastest step; {torch.get_num_threads()} threads; 1-min load average before/after: {load}")
    print("step/bare: median over pairs; best/best and cpu best/best: fastest step over fastest bare pass")
    cols = ["case", "batch", *PHASES, "step", "bare", "step/bare", "quartiles", "best/best", "cpu best/best", "img/s",
            "faults step/bare"]
    print(" | ".join(cols))
    for r in results:
        ms = r["best_ms"]
        print(" | ".join(str(v) for v in [r["name"], r["batch"], *(ms[p] for p in PHASES), ms["step"], ms["bare"],
                                          r["step_over_bare"], "–".join(map(str, r["step_over_bare_quartiles"])),
                                          r["best_step_over_best_bare"],
                                          r["cpu_time_best_step_over_best_bare"],
                                          r["train_images_per_s"],
                                          "{step:.0f}/{bare:.0f}".format(**r["page_faults_median"])]))
    for r in results:
        low, high = r["step_over_bare_quartiles"]
        verdict = "met" if high <= 1.10 else "NOT met" if low > 1.10 else "median " + (
            "met" if r["step_over_bare"] <= 1.10 else "NOT met") + ", quartiles straddle it"
        ok_coupling = r["coupling_share"] <= 0.05
        print(f"{r['name']}: step/bare = {r['step_over_bare']} (quartiles {low}–{high}; target ≤ 1.10: {verdict}), "
              f"coupling share = {r['coupling_share']:.1%} (target ≤ 5%: {'met' if ok_coupling else 'NOT met'})")
    balancing = balancing_costs(results)
    for line in balancing.pop("lines"):
        print(line)
    write_result(args.out, {"machine": machine(threads=torch.get_num_threads(), torch=torch.__version__,
                                               device=args.device, load_average_1min_before_after=load,
                                               reuse_freed_memory=not args.system_malloc),
                            "timing": "step_over_bare: median of per-pair ratios (step_over_bare_quartiles: their "
                                      "quartiles); best_ms: the fastest step (its phases) and bare pass",
                            "results": results, **({"balancing": balancing} if balancing["costs"] else {})},
                 indent=1)


def balancing_costs(results: list[dict]) -> dict:
    """Each balancing method's step and backward over the same case's plain (`none`) ones.

    Cases run one after another, so a busy machine moves their raw times apart; each is therefore
    also read against its own bare forward + backward, timed alternately with its steps
    (`*_over_bare_factor`: the method's step / bare over the plain step / bare, the same for backward).
    """
    plain = {r["case"]: r for r in results if r["balancing"] == "none"}
    costs, lines = [], []
    for r in results:
        base = plain.get(r["case"])
        if r["balancing"] == "none" or base is None:
            continue
        med, ref = r["median_ms"], base["median_ms"]
        cost = {"case": r["case"], "balancing": r["balancing"], "step_ms": med["step"], "plain_step_ms": ref["step"],
                "step_factor": round(med["step"] / ref["step"], 3),
                "backward_ms": med["backward"], "plain_backward_ms": ref["backward"],
                "backward_factor": round(med["backward"] / ref["backward"], 3),
                "step_over_bare_factor": round(r["step_over_bare"] / base["step_over_bare"], 3),
                "backward_over_bare_factor": round(med["backward"] / med["bare"] / (ref["backward"] / ref["bare"]), 3)}
        costs.append(cost)
        lines.append(f"{r['case']} {r['balancing']}: step {cost['step_over_bare_factor']}x and backward "
                     f"{cost['backward_over_bare_factor']}x the plain ones, each against its own bare pass "
                     f"(raw medians: step {med['step']} ms vs {ref['step']} ms = {cost['step_factor']}x, backward "
                     f"{cost['backward_factor']}x)")
    return {"costs": costs, "lines": lines,
            "note": "medians over the timed steps; *_over_bare_factor reads each case against its own bare "
                    "forward + backward (steadier on a busy machine); pcgrad's objectives here: 3 tasks + 2 "
                    "coupling terms (soft co-annotation, distribution matching), all present in every batch"}


if __name__ == "__main__":
    main()
