"""Where a training step's time goes: data, forward, losses (task / coupling), backward.

Prints a table and writes benchmarks/results/bench_step.json. Targets (issue 2): a full step costs
at most 1.10× the bare forward+backward of the same batch, and all coupling losses together add at
most 5%. Run: .venv/bin/python benchmarks/bench_step.py [--repeats 10]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from facebehavior.config import AugmentConfig, CouplingConfig, ModelConfig
from facebehavior.data.sampler import HeteroBatchSampler, LabelSet
from facebehavior.data.transforms import augment_batch, make_generator, to_model_input
from facebehavior.labels import affect_tasks
from facebehavior.losses.objective import CouplingTerm, MultiTaskObjective
from facebehavior.models import build_model
from facebehavior.relatedness import load_relatedness

SETS = {"au": 200, "va": 124, "expr": 52}  # the paper's batch composition


def synthetic_table(n: int, size: int, rng):
    images = torch.from_numpy(rng.integers(0, 255, (n, 3, size, size), dtype=np.uint8))
    third = n // 3
    expr = np.full(n, -1)
    expr[:third] = rng.integers(0, 7, third)
    au = np.full((n, 17), np.nan, np.float32)
    au[third:2 * third] = rng.integers(0, 2, (third, 17))
    va = np.full((n, 2), np.nan, np.float32)
    va[2 * third:] = rng.uniform(-1, 1, (n - 2 * third, 2))
    labels = {"expr": torch.from_numpy(expr), "expr_soft": torch.full((n, 7), float("nan")),
              "au": torch.from_numpy(au), "va": torch.from_numpy(va)}
    sets = [LabelSet("expr", np.arange(third), 0), LabelSet("au", np.arange(third, 2 * third), 0),
            LabelSet("va", np.arange(2 * third, n), 0)]
    return images, labels, sets


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def bench(preset: str, size: int, scale: float, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    tasks = affect_tasks()
    model = build_model(ModelConfig(backbone="fbn", preset=preset), tasks)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    images, labels, sets = synthetic_table(3000, size, rng)
    for s in sets:
        s.batch_size = max(1, int(SETS[s.name] * scale))
    sampler = HeteroBatchSampler(sets, seed=0)
    rel = torch.from_numpy(load_relatedness("du2014").weights)
    coupled_cfg = CouplingConfig()
    coupled_cfg.soft_coannotation.enabled = coupled_cfg.distribution_matching.enabled = True
    coupled_cfg.coannotation.enabled = True
    with_coupling = MultiTaskObjective(tasks, [CouplingTerm("expr", "au", rel, coupled_cfg)])
    task_only = MultiTaskObjective(tasks, [])
    augment = AugmentConfig()
    batches = iter(sampler)
    rows = []
    for step in range(repeats + 2):  # two warm-up steps
        idx = torch.tensor(next(batches))

        def load():
            x = augment_batch(to_model_input(images[idx]), augment, make_generator(0, step))
            return x, {k: v[idx] for k, v in labels.items()}

        (x, y), t_data = timed(load)
        logits, t_fwd = timed(lambda: model(x))
        _, t_task = timed(lambda: task_only(logits, y))
        losses, t_all = timed(lambda: with_coupling(logits, y))

        def backward():
            optimizer.zero_grad(set_to_none=True)
            losses["total"].backward()
            optimizer.step()

        _, t_bwd = timed(backward)

        def bare():
            optimizer.zero_grad(set_to_none=True)
            out = model(x)
            torch.cat([v.float() for v in out.values()], 1).mean().backward()
            optimizer.step()

        _, t_bare = timed(bare)
        if step >= 2:
            rows.append({"data": t_data, "forward": t_fwd, "task_losses": t_task,
                         "coupling_losses": max(0.0, t_all - t_task), "backward": t_bwd, "bare_fwd_bwd": t_bare})
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    step = med["data"] + med["forward"] + med["task_losses"] + med["coupling_losses"] + med["backward"]
    return {"preset": preset, "input": size, "batch": len(idx), **{k: round(v * 1000, 2) for k, v in med.items()},
            "step_ms": round(step * 1000, 2), "step_over_bare": round(step / med["bare_fwd_bwd"], 3),
            "coupling_share": round(med["coupling_losses"] / step, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--out", default="benchmarks/results/bench_step.json")
    args = parser.parse_args()
    torch.manual_seed(0)
    results = [bench("tiny", 64, 1.0, args.repeats), bench("paper", 112, 0.25, max(3, args.repeats // 2))]
    cols = ["preset", "input", "batch", "data", "forward", "task_losses", "coupling_losses", "backward",
            "step_ms", "bare_fwd_bwd", "step_over_bare", "coupling_share"]
    print("times in ms (median); step = data + forward + losses + backward(+optimizer step)")
    print(" | ".join(cols))
    for r in results:
        print(" | ".join(str(r[c]) for c in cols))
    for r in results:
        ok_step, ok_coupling = r["step_over_bare"] <= 1.10, r["coupling_share"] <= 0.05
        print(f"{r['preset']}: step/bare = {r['step_over_bare']} (target ≤ 1.10: {'met' if ok_step else 'NOT met'}), "
              f"coupling share = {r['coupling_share']:.1%} (target ≤ 5%: {'met' if ok_coupling else 'NOT met'})")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": f"{platform.processor() or platform.machine()}, "
                                          f"{torch.get_num_threads()} threads, torch {torch.__version__}",
                               "results": results}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
