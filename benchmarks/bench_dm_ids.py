"""What distribution matching over 10,177 identities adds to a training step (issue 8).

Case study II couples a softmax over 10,177 CelebA identities with 40 attributes: q = p(id|x) @ R,
R = p(attr | id) (10,177 × 40), one matrix product per batch (eq. 10–11). Target: less than 5 %
on top of a training step at batch 256 on CPU.

Measured, for the paper-preset FaceBehaviorNet (ids + attributes head) at batch 256:
- `step`: forward, task losses, backward and SGD-momentum update on a fixed random batch, without
  and with the DM term; the two are timed alternately (ABBA) so load from other processes hits
  both alike; medians over repeats. Data loading and augmentation are left out (the same in both).
- `dm`: the DM term alone, forward and backward from the logits (its whole extra cost), median over
  many repeats; `dm / step` is its share of the step without it.
A full paper-size step (112×112) takes tens of seconds on a 2-core CPU, so by default the step is
timed at 48×48 (fewer repeats at 112 with `--sizes 48,112`). The DM cost does not depend on the
input size, so its share at a smaller input is an upper bound of the share at 112×112.

Run: .venv/bin/python benchmarks/bench_dm_ids.py [--sizes 48,112] [--repeats 4] [--threads 2]
Prints a table and writes benchmarks/results/bench_dm_ids.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from facebehavior.config import CouplingConfig, ModelConfig
from facebehavior.labels import CELEBA_ATTRIBUTES, TaskSpec
from facebehavior.losses.coupling import distribution_matching
from facebehavior.losses.objective import CouplingTerm, MultiTaskObjective
from facebehavior.models import build_model

from benchlib import machine, write_result  # benchmarks/benchlib.py

N_IDS = 10177
BATCH = 256
TARGET = 0.05


def celeba_tasks() -> list[TaskSpec]:
    return [TaskSpec("identity", "multiclass", tuple(f"id{i}" for i in range(N_IDS))),
            TaskSpec("attributes", "multilabel", CELEBA_ATTRIBUTES)]


def relatedness(generator: torch.Generator) -> torch.Tensor:
    """A p(attr | id) table shaped like CelebA's: ~20 images per identity, so multiples of 1/20."""
    return (torch.rand(N_IDS, len(CELEBA_ATTRIBUTES), generator=generator) * 20).floor() / 20


def objectives(tasks, rel: torch.Tensor) -> dict[str, MultiTaskObjective]:
    cfg = CouplingConfig(multiclass="identity", multilabel="attributes", relatedness="estimate")
    cfg.distribution_matching.enabled = True
    cfg.distribution_matching.relatedness_mode = "weighted"  # as configs/paper_celeba.yaml
    cfg.distribution_matching.form, cfg.distribution_matching.grad_to = "paper", "both"  # as it too
    return {"without DM": MultiTaskObjective(tasks, []),
            "with DM": MultiTaskObjective(tasks, [CouplingTerm.from_config(cfg, rel)])}


def time_dm(rel: torch.Tensor, generator: torch.Generator, repeats: int) -> tuple[float, float]:
    """Median (wall, CPU) seconds of the DM term's forward + backward from the logits of one batch."""
    times = []
    for i in range(repeats + 3):
        ids = torch.randn(BATCH, N_IDS, generator=generator).requires_grad_()
        attrs = torch.randn(BATCH, len(CELEBA_ATTRIBUTES), generator=generator).requires_grad_()
        t, c = time.perf_counter(), time.process_time()
        distribution_matching(ids, attrs, rel, "paper", "both").backward()
        if i >= 3:
            times.append((time.perf_counter() - t, time.process_time() - c))
    return statistics.median(w for w, _ in times), statistics.median(c for _, c in times)


def time_steps(size: int, tasks, objs: dict, generator: torch.Generator, repeats: int) -> dict[str, list]:
    """(wall, CPU) seconds per training step without / with DM, in ABBA order after one warm-up each."""
    model = build_model(ModelConfig(backbone="fbn", preset="paper"), tasks)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    x = torch.rand(BATCH, 3, size, size, generator=generator) * 2 - 1
    # no `identity_soft` rows: the trainer passes all-NaN ones, which would only add the same cost to both
    labels = {"identity": torch.randint(0, N_IDS, (BATCH,), generator=generator),
              "attributes": torch.randint(0, 2, (BATCH, len(CELEBA_ATTRIBUTES)), generator=generator).float()}

    def step(name: str) -> tuple[float, float]:
        t, c = time.perf_counter(), time.process_time()
        losses = objs[name](model(x), labels)
        optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        optimizer.step()
        return time.perf_counter() - t, time.process_time() - c

    names = list(objs)
    for name in names:
        step(name)  # warm-up
    times: dict[str, list] = {name: [] for name in names}
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            times[name].append(step(name))
    return times


def bench(sizes: list[int], repeats: int, dm_repeats: int) -> dict:
    generator = torch.Generator().manual_seed(0)
    tasks = celeba_tasks()
    rel = relatedness(generator)
    objs = objectives(tasks, rel)
    dm, dm_cpu = time_dm(rel, generator, dm_repeats)
    rows = []
    for size in sizes:
        reps = repeats if size <= 64 else max(1, repeats // 2)
        times = time_steps(size, tasks, objs, generator, reps)

        def med(name: str, which: int) -> float:
            return statistics.median(t[which] for t in times[name])

        without, with_dm = med("without DM", 0), med("with DM", 0)
        without_cpu, with_cpu = med("without DM", 1), med("with DM", 1)
        rows.append({"input": size, "batch": BATCH, "repeats": reps,
                     "step_without_dm_ms": round(without * 1000, 1), "step_with_dm_ms": round(with_dm * 1000, 1),
                     "step_difference": round(with_dm / without - 1, 4),
                     "step_difference_cpu": round(with_cpu / without_cpu - 1, 4),
                     "dm_ms": round(dm * 1000, 2), "dm_share": round(dm / without, 4),
                     "dm_share_cpu": round(dm_cpu / without_cpu, 4),
                     "raw_ms": {k: [[round(v * 1000, 1) for v in t] for t in ts] for k, ts in times.items()}})
    return {"ids": N_IDS, "attributes": len(CELEBA_ATTRIBUTES), "batch": BATCH, "dm_ms": round(dm * 1000, 2),
            "dm_cpu_ms": round(dm_cpu * 1000, 2), "dm_repeats": dm_repeats,
            "load_average": [round(v, 2) for v in os.getloadavg()], "rows": rows}


def print_table(result: dict) -> None:
    cols = ["input", "batch", "repeats", "step_without_dm_ms", "step_with_dm_ms", "step_difference",
            "step_difference_cpu", "dm_ms", "dm_share", "dm_share_cpu"]
    print(f"fbn paper preset, {result['ids']} ids + {result['attributes']} attributes, batch {result['batch']}; "
          f"wall times in ms (medians); *_cpu: the same ratios in process CPU time (robust to other load; "
          f"load average {result['load_average'][0]})")
    print(" | ".join(cols))
    for r in result["rows"]:
        print(" | ".join(str(r[c]) for c in cols))
    for r in result["rows"]:
        verdict = "met" if max(r["dm_share"], r["dm_share_cpu"]) < TARGET else "NOT met"
        print(f"{r['input']}×{r['input']}: DM term {r['dm_ms']} ms = {r['dm_share']:.2%} of a "
              f"{r['step_without_dm_ms']} ms step ({r['dm_share_cpu']:.2%} in CPU time; target < 5%: {verdict}); whole steps with vs without "
              f"DM differ by {r['step_difference']:+.2%} wall, {r['step_difference_cpu']:+.2%} CPU (step-to-step "
              "noise is of the same order)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="48", help="input sizes to time the step at, e.g. 48,112 (default 48)")
    parser.add_argument("--repeats", type=int, default=4, help="timed steps per variant (halved above 64 px)")
    parser.add_argument("--dm-repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/bench_dm_ids.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result = bench([int(s) for s in args.sizes.split(",")], args.repeats, args.dm_repeats)
    print_table(result)
    result["machine"] = machine(threads=torch.get_num_threads(), torch=torch.__version__)
    result["command"] = f"benchmarks/bench_dm_ids.py --sizes {args.sizes} --repeats {args.repeats} " \
                        f"--dm-repeats {args.dm_repeats} --threads {args.threads}"
    write_result(args.out, result, indent=1)


if __name__ == "__main__":
    main()
