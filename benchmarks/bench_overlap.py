"""Can the training step hide its augmentation behind forward + backward on this CPU?

bench_step.py shows the tiny fbn@64 step missing step/bare ≤ 1.10 by its augmentation (≈ 21 ms on the
training thread). This script measures whether augmenting the next batch on a background thread
while forward + backward run would hide it. Each pass of the tiny case (batch 376) is timed from
its start until both its bare forward + backward and, where there is one, the background batch are
done, in five conditions, in this order, in a fresh process per round (an OpenMP thread team
outlives the thread that made it):

1. `bare`: forward + backward alone.
2. `inline`: augmentation on the training thread, then forward + backward (the trainer's step).
3. `ahead, 1 thread`: a background thread augments one batch per pass at the lowest priority
   (Linux SCHED_IDLE: it runs only on a core the training threads leave idle, so it cannot slow
   them down), its tensor ops on one thread (libgomp's `omp_set_num_threads(1)` for that thread),
   so it starts no OpenMP team of its own.
4. `ahead, own team`: the same with the two threads a new Python thread gets by default, i.e. a
   second OpenMP team.
5. `bare after`: forward + backward alone again, the second team's threads now idle.

The augmentation is hidden where an `ahead` condition takes less than `inline` and close to `bare`.
(What to expect from libgomp, torch's OpenMP on Linux: waiting threads spin 300,000 times before
sleeping, but only 100 times once there are more OpenMP threads than CPUs: see GOMP_SPINCOUNT.)
Also given: the share of passes in which the background batch was still running when the forward +
backward finished. Prints a table, writes benchmarks/results/bench_overlap.json.
Run: .venv/bin/python benchmarks/bench_overlap.py [--rounds 3] [--passes 12]
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from benchlib import machine, write_result  # benchmarks/benchlib.py

CONDITIONS = ("bare", "inline", "ahead, 1 thread", "ahead, own team", "bare after")


def one_round(passes: int) -> dict:
    """The conditions in order, in this process: per condition the median pass (ms) and the share of
    passes that waited for the background batch."""
    import torch

    import bench_step
    from facebehavior.data.transforms import make_generator, training_input

    with tempfile.TemporaryDirectory() as tmp:
        manifest = bench_step.write_dataset(Path(tmp) / "data", 64)
        rig = bench_step.Rig(bench_step.experiment(manifest, 64, "tiny", 1.0, bench_step.AUGMENT["default"]))
        images = next(rig.batches())[0]  # uint8, channels_last: what the trainer augments
        augment = rig.cfg.data.augment

        def augmented(step: int) -> torch.Tensor:
            return training_input(images, augment, make_generator(0, step), torch.channels_last)

        x = augmented(0)
        gomp = _libgomp(torch)
        result = {}
        for condition in CONDITIONS:
            if condition == "ahead, 1 thread" and gomp is None:
                continue
            worker = _Augmenter(augmented, gomp if condition == "ahead, 1 thread" else None) \
                if condition.startswith("ahead") else None
            times, waited = [], 0
            for step in range(passes + 2):  # two warm-up passes
                started = bench_step.clock(rig.device)
                if worker:
                    worker.request(step)
                if condition == "inline":
                    augmented(step)
                bench_step.bare_forward_backward(rig, x)
                if worker:
                    waited += worker.busy() and step >= 2
                    worker.wait()
                if step >= 2:
                    times.append(bench_step.clock(rig.device) - started)
            if worker:
                worker.close()
            result[condition] = {"median_ms": 1000 * statistics.median(times), "waited_share": waited / passes}
    return result


class _Augmenter:
    """A thread at idle priority that augments one batch per request."""

    def __init__(self, augmented, gomp):
        self._augmented, self._gomp = augmented, gomp
        self._requests, self._done = queue.Queue(), queue.Queue()
        self._pending = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def request(self, step: int) -> None:
        self._pending = True
        self._requests.put(step)

    def busy(self) -> bool:
        return self._done.empty()

    def wait(self) -> None:
        if self._pending:
            self._done.get()
            self._pending = False

    def close(self) -> None:
        self._requests.put(None)
        self._thread.join()

    def _run(self):
        import torch

        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        torch.get_num_threads()  # torch sets this thread's OpenMP thread count on first use: before ours
        if self._gomp is not None:
            self._gomp.omp_set_num_threads(1)
        while (step := self._requests.get()) is not None:
            self._augmented(step)
            self._done.put(step)


def _libgomp(torch):
    """torch's own libgomp (pip wheels on Linux), for a per-thread OpenMP thread count; None elsewhere."""
    found = glob.glob(os.path.join(os.path.dirname(torch.__file__), "lib", "libgomp*.so*"))
    return ctypes.CDLL(found[0]) if found else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="fresh processes, each running all conditions")
    parser.add_argument("--passes", type=int, default=12, help="bare passes per condition")
    parser.add_argument("--out", default="benchmarks/results/bench_overlap.json")
    parser.add_argument("--round", action="store_true", help=argparse.SUPPRESS)  # internal: one round, JSON out
    args = parser.parse_args()
    if args.round:
        print(json.dumps(one_round(args.passes)))
        return
    if not hasattr(os, "SCHED_IDLE"):
        parser.error("this measurement needs Linux (SCHED_IDLE)")
    load_before = os.getloadavg()[0]
    rounds = []
    for _ in range(args.rounds):
        out = subprocess.run([sys.executable, __file__, "--round", "--passes", str(args.passes)], check=True,
                             capture_output=True, text=True).stdout
        rounds.append(json.loads(out.strip().splitlines()[-1]))
    load = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    print(f"tiny fbn@64, batch 376, 2 torch threads, default augmentation; median of {args.passes} passes "
          f"(ms), [share of passes that waited for the background batch]; load before/after {load}")
    print("round | " + " | ".join(CONDITIONS))
    for i, r in enumerate(rounds, 1):
        cells = [(f"{r[c]['median_ms']:.1f}" + (f" [{r[c]['waited_share']:.2f}]" if c.startswith("ahead") else ""))
                 if c in r else "n/a" for c in CONDITIONS]
        print(f"{i} | " + " | ".join(cells))
    import torch

    write_result(args.out, {"machine": machine(torch=torch.__version__, load_average_1min_before_after=load),
                            "case": "tiny fbn@64, batch 376, default augmentation, channels_last",
                            "passes": args.passes, "rounds": rounds})


if __name__ == "__main__":
    main()
