"""Why a training step on a GPU costs more than its forward + backward: timed without phase marks, then profiled.

bench_step.py times each phase of the step by synchronising the device at every mark, which on a GPU
stops the host from queuing work ahead and so inflates the step it measures. Here the trainer's own
`optimisation_step` runs `--steps` times back to back (one synchronisation before and after), as the
trainer runs it, against as many bare forward + backward passes on the same batch (bench_step's rig).
Then torch.profiler records a few steps: the host-side operations that take the most time, how often
the host waits for the device (synchronisations, device-to-host copies), and the device's busy time
over the wall time. Prints a table, writes benchmarks/results/gpu_step_profile.json.
Run: .venv/bin/python benchmarks/gpu_step_profile.py [--device cuda] [--steps 30] [--only CASE ...]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench_step import AUGMENT, CASES, Rig, bare_pass, clock, experiment, write_dataset  # benchmarks/bench_step.py
from benchlib import machine, write_result  # benchmarks/benchlib.py

import torch
from torch.profiler import ProfilerActivity, profile

from facebehavior.training.step import optimisation_step

WAITS = ("cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaEventSynchronize", "aten::item",
         "aten::_local_scalar_dense", "aten::nonzero")


def steps_back_to_back(rig: Rig, batches, steps: int, first_step: int) -> float:
    """Seconds per trainer step, synchronised only at the ends (the host may run ahead, as in training)."""
    started = clock(rig.device)
    for i in range(steps):
        images, idx = next(batches)
        optimisation_step(rig.parts, images, idx, first_step + i)
    return (clock(rig.device) - started) / steps


def bare_back_to_back(rig: Rig, x: torch.Tensor, steps: int) -> float:
    started = clock(rig.device)
    for _ in range(steps):
        bare_pass(rig, x)
    return (clock(rig.device) - started) / steps


def profiled(rig: Rig, batches, steps: int, first_step: int) -> dict:
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if rig.device.type == "cuda" else [])
    started = clock(rig.device)
    with profile(activities=activities) as prof:
        for i in range(steps):
            images, idx = next(batches)
            optimisation_step(rig.parts, images, idx, first_step + i)
        clock(rig.device)
    wall = time.perf_counter() - started
    events = prof.key_averages()
    top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:15]
    device_us = sum(getattr(e, "self_device_time_total", 0) or 0 for e in events)
    return {
        "steps": steps, "wall_ms_per_step": round(wall * 1000 / steps, 2),
        "device_busy_ms_per_step": round(device_us / 1000 / steps, 2),
        "waits_per_step": {e.key: round(e.count / steps, 1) for e in events if e.key in WAITS},
        "top_host_ops": [{"op": e.key, "calls_per_step": round(e.count / steps, 1),
                          "self_host_ms_per_step": round(e.self_cpu_time_total / 1000 / steps, 3)} for e in top],
    }


def run_case(name: str, preset: str, size: int, scale: float, augment: str, steps: int, root: Path,
             device: str) -> dict:
    manifest = root / f"data{size}" / "manifest.csv"
    if not manifest.exists():
        write_dataset(manifest.parent, size)
    rig = Rig(experiment(manifest, size, preset, scale, AUGMENT[augment], device))
    batches = rig.batches()
    steps_back_to_back(rig, batches, 3, 0)  # warm-up: cuDNN's algorithm search, the allocator's pools
    images, idx = next(batches)
    x = optimisation_step(rig.parts, images, idx, 3).x.detach()
    bare_back_to_back(rig, x, 3)
    step_s = steps_back_to_back(rig, batches, steps, 4)
    bare_s = bare_back_to_back(rig, x, steps)
    batch = sum(s.batch_size for s in rig.data.sampler.sets)
    return {"case": name, "batch": batch, "step_ms": round(step_s * 1000, 2), "bare_ms": round(bare_s * 1000, 2),
            "step_over_bare": round(step_s / bare_s, 3), "train_images_per_s": round(batch / step_s, 1),
            "profile": profiled(rig, batches, 5, 4 + steps)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=30, help="steps (and bare passes) timed back to back")
    parser.add_argument("--only", nargs="*", help="case names (default: tiny@64 and paper@112)")
    parser.add_argument("--out", default="benchmarks/results/gpu_step_profile.json")
    args = parser.parse_args()
    wanted = args.only or ["tiny@64", "paper@112"]
    results = []
    with tempfile.TemporaryDirectory(prefix="gpu_step_profile_") as tmp:
        for name, preset, size, scale, augment in CASES:
            if name in wanted:
                results.append(run_case(name, preset, size, scale, augment, args.steps, Path(tmp), args.device))
    print(f"device {args.device}; {args.steps} steps back to back, then 5 profiled")
    print("case | batch | step ms | bare ms | step/bare | img/s | device busy ms/step | host waits per step")
    for r in results:
        p = r["profile"]
        print(f"{r['case']} | {r['batch']} | {r['step_ms']} | {r['bare_ms']} | {r['step_over_bare']} | "
              f"{r['train_images_per_s']} | {p['device_busy_ms_per_step']} | {p['waits_per_step']}")
        for op in p["top_host_ops"][:8]:
            print(f"    {op['op']}: {op['self_host_ms_per_step']} ms/step host, {op['calls_per_step']} calls/step")
    write_result(args.out, {"machine": machine(torch=torch.__version__, device=args.device,
                                               gpu=torch.cuda.get_device_name(0) if args.device == "cuda" else None),
                            "results": results}, indent=1)


if __name__ == "__main__":
    main()
