"""Do some study runs (e.g. made on a GPU) land where the same rows' runs of another study (the CPU one) do?

For every run in `--runs` and every database/task of it, its primary test score is placed against the
same row's seeds in `--against` (runs match by slug without the seed: `no_coupling_s0` ~ `no_coupling_s*`):
inside their range or not, and z = (score − their mean) / their standard deviation. A score drawn from
the same distribution as n seeds lies inside their range with probability (n − 1) / (n + 1).
Prints the scores beyond `--z` standard deviations and a summary; writes JSON.
Run: python benchmarks/compare_study_runs.py [--runs benchmarks/results/affect_study_gpu_sample]
     [--against benchmarks/results/affect_study_full] [--z 2.5]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from pathlib import Path

from benchlib import write_result  # benchmarks/benchlib.py


def primary_scores(run: dict) -> dict[tuple[str, str], float]:
    """{(database, task): the task's protocol metric} of one run's test results."""
    return {(db, task): m[m["primary"]] for db, tasks in run["results"].items() for task, m in tasks.items()}


def compare(runs: Path, against: Path, z_limit: float) -> dict:
    cells = []
    for path in sorted(runs.glob("*.json")):
        row = re.sub(r"_s\d+$", "", path.stem)
        seeds = [json.loads(p.read_text()) for p in sorted(against.glob(f"{row}_s*.json"))
                 if re.fullmatch(rf"{re.escape(row)}_s\d+", p.stem)]
        if len(seeds) < 2:
            continue
        theirs = [primary_scores(s) for s in seeds]
        for key, score in primary_scores(json.loads(path.read_text())).items():
            values = [t[key] for t in theirs if key in t]
            sd = statistics.stdev(values)
            cells.append({"run": path.stem, "database": key[0], "task": key[1], "score": score,
                          "against": values, "inside_range": min(values) <= score <= max(values),
                          "z": (score - statistics.mean(values)) / sd if sd > 0 else 0.0})
    n_seeds = sorted({len(c["against"]) for c in cells})
    return {"runs": str(runs), "against": str(against), "scores": len(cells),
            "inside_range": sum(c["inside_range"] for c in cells),
            "expected_inside_share": [round((n - 1) / (n + 1), 3) for n in n_seeds],
            "mean_abs_z": round(statistics.mean(abs(c["z"]) for c in cells), 2) if cells else None,
            "beyond_z": [c for c in cells if abs(c["z"]) > z_limit], "z_limit": z_limit, "cells": cells}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="benchmarks/results/affect_study_gpu_sample")
    parser.add_argument("--against", default="benchmarks/results/affect_study_full")
    parser.add_argument("--z", type=float, default=2.5, help="list the scores beyond this many standard deviations")
    parser.add_argument("--out", default="benchmarks/results/affect_study_gpu_vs_cpu.json")
    args = parser.parse_args()
    got = compare(Path(args.runs), Path(args.against), args.z)
    for c in sorted(got["beyond_z"], key=lambda c: abs(c["z"]), reverse=True):
        print(f"{c['run']} {c['database']} {c['task']}: {c['score']:.3f} against "
              f"{min(c['against']):.3f}-{max(c['against']):.3f} (z {c['z']:+.2f})")
    print(f"{got['inside_range']} of {got['scores']} scores inside the other runs' range (expected share "
          f"{got['expected_inside_share']}); mean |z| {got['mean_abs_z']}; {len(got['beyond_z'])} beyond {args.z} sd")
    write_result(args.out, got, indent=1)


if __name__ == "__main__":
    main()
