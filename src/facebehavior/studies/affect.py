"""The affect study on SynthFace: the paper's Table 3 ablation and Table 5's single-task row.

Trains the tiny FaceBehaviorNet on every SynthFace training database (each labels only some
tasks) with each coupling row (no coupling, co-annotation, soft co-annotation, distribution
matching, the paper's best combination; relatedness from Du et al., while SynthFace generates AUs
from the *other*, data-driven table), over several seeds, plus the single-task networks; each run
is evaluated on every test database (the training ones and two unseen ones) with its own metric and
read against the *ceiling*, what a model that perceived the generating AUs perfectly would score
(facebehavior.evaluation.ceiling).

Three sizes: `--quick` (the tests), the default `make demo` (15 min from a fresh clone on a quiet
2-core CPU, virtual environment included; docs/results.md) and `--full`, the study docs/results.md
reports: more epochs, 5 seeds, every distribution-matching form, every task-balancing method and a
scarce-label regime (10% of the expression labels kept). Every run is a resumable training
run and writes its result to `<results>/<run>.json` as it finishes; `--resume` skips finished runs
and continues interrupted ones from their last checkpoint, so a study stopped at any point goes on
where it was. Rows are data (`Row`): a later study adds rows (e.g. a task-balancing method through
`patch`) without touching the runner (its options: src/facebehavior/cli/demo.py). Runs go `workers` at a time in separate processes, one
thread each (small convolutions scale poorly across threads).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facebehavior import atomic
from facebehavior.studies.common import (environment, environment_line, interval_table, report_columns, signed,
                                         summarise_runs, values)
from facebehavior.studies.transfer import negative_transfer, plot_transfer, transfer_summary, transfer_table

# Eq. 4 sums the matching term over the AUs while L_AU (eq. 2) averages over annotated AUs;
# λ_DM = 1/17 puts the two on the same per-AU scale (the paper does not give coupling weights).
DM = {"enabled": True, "weight": 1 / 17}  # the default form: bernoulli / grad_to multiclass / unlinked drop
DM_EQ4 = {**DM, "form": "paper", "grad_to": "both", "unlinked": "keep"}  # eq. 4 as the paper writes it
SOFT = {"enabled": True}
TASKS = [
    {"name": "expr", "kind": "multiclass", "labels": "@expressions"},
    {"name": "au", "kind": "multilabel", "labels": "@aus"},
    {"name": "va", "kind": "regression", "labels": "@va", "range": [-1, 1]},
]
SCARCE_KEEP = 0.10  # the scarce-label regime keeps this share of the training expression labels


@dataclass(frozen=True)
class Row:
    """One row of the study: a network trained with `coupling` (on the coupling of expr and AUs),
    `tasks` (None = all three), on all labels or the scarce ones, with config `patch` merged on top
    (a nested dict, e.g. {"train": {"balancing": "uncertainty"}} for a later balancing row).
    `baseline` is the row it is compared with (None: it is a baseline itself)."""

    label: str
    coupling: dict = field(default_factory=dict)
    group: str = "coupling"
    baseline: str | None = "no coupling"
    scarce: bool = False
    tasks: tuple[str, ...] | None = None
    patch: dict = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return (self.label.replace(" + ", "_and_").replace(", ", "_").replace(": ", "_").replace(" ", "_")
                .replace("-", "_").replace("(", "").replace(")", "").replace("/", "_").replace(".", ""))


def _single_task(prefix: str = "", scarce: bool = False, tasks=("expr", "au", "va")) -> list[Row]:
    return [Row(f"{prefix}ST {t}", group="single-task", baseline=None, scarce=scarce, tasks=(t,)) for t in tasks]


# Task balancing (issue 21; losses/balancing.py), alone and with the best coupling. "Best" is the paper's
# (soft co-annotation + distribution matching): on SynthFace no coupling row has yet differed
# significantly from no coupling, so there is no measured best to pick instead.
BEST = "soft co-annotation + distr-matching"
BEST_COUPLING = {"soft_coannotation": SOFT, "distribution_matching": DM}
UNCERTAINTY = {"train": {"balancing": "uncertainty"}}
PCGRAD = {"train": {"balancing": "pcgrad"}}  # a backward pass per task: ~3.3× a step (bench_step)
BALANCING_ROWS: list[Row] = [
    Row("uncertainty weighting", group="balancing", patch=UNCERTAINTY),
    Row("PCGrad", group="balancing", patch=PCGRAD),
    Row(f"uncertainty + {BEST}", BEST_COUPLING, group="balancing", baseline=BEST, patch=UNCERTAINTY),
    Row(f"PCGrad + {BEST}", BEST_COUPLING, group="balancing", baseline=BEST, patch=PCGRAD),
]

DEMO_ROWS: list[Row] = [
    Row("no coupling", baseline=None),
    Row("co-annotation", {"coannotation": {"enabled": True}}),
    Row("soft co-annotation", {"soft_coannotation": SOFT}),
    Row("distr-matching", {"distribution_matching": DM}),
    Row(BEST, BEST_COUPLING),
    BALANCING_ROWS[0],  # the demo's budget takes the cheap method only; the full study has all four
    *_single_task(),
]
FULL_ROWS: list[Row] = [  # in the order a seed's runs go: the most informative first
    *DEMO_ROWS[:5],
    *_single_task(),
    *BALANCING_ROWS,
    Row("distr-matching eq. 4 as written", {"distribution_matching": DM_EQ4}),
    Row("soft co-annotation + distr-matching eq. 4", {"soft_coannotation": SOFT, "distribution_matching": DM_EQ4}),
    Row("scarce: no coupling", group="scarce", baseline=None, scarce=True),
    Row("scarce: co-annotation", {"coannotation": {"enabled": True}}, group="scarce",
        baseline="scarce: no coupling", scarce=True),
    Row("scarce: soft co-annotation", {"soft_coannotation": SOFT}, group="scarce",
        baseline="scarce: no coupling", scarce=True),
    Row("scarce: distr-matching", {"distribution_matching": DM}, group="scarce",
        baseline="scarce: no coupling", scarce=True),
    Row("scarce: soft co-annotation + distr-matching", {"soft_coannotation": SOFT, "distribution_matching": DM},
        group="scarce", baseline="scarce: no coupling", scarce=True),
    *_single_task("scarce: ", scarce=True, tasks=("expr",)),
]
VARIANTS = [(r.label, r.coupling) for r in DEMO_ROWS if r.group == "coupling"]  # the demo's coupling rows

# The training recipe of each size. CPU recipe: AdamW + cosine instead of the paper's SGD 1e-4,
# which needs days on a GPU. Chosen from one-change experiments (docs/results.md, "Why the study's
# networks learned so little"; benchmarks/results/study_budget/): lr 3e-3 (1e-2 sat at chance for the
# first three epochs, 1e-3 learned slower), an equal share of every batch per label set (the
# proportional default gave the AU databases half of each batch and learned expressions slower), and
# the budget: 3 epochs were the plateau before learning starts. The full study trains a 2× wider
# network for longer (it learned more per step); the demo keeps the tiny one to fit 15 minutes.
RECIPE = {"lr": 3e-3, "batch": 128, "stem_stride": 2, "equal_sets": True, "widths": None}
SETTINGS = {
    "quick": {**RECIPE, "scale": 0.2, "epochs": 2, "seeds": 1, "st_seeds": 1, "rows": "demo"},
    # two single-task seeds: the negative-transfer report needs two on each side for an interval
    "demo": {**RECIPE, "scale": 1.0, "epochs": 3, "seeds": 2, "st_seeds": 2, "rows": "demo"},
    "full": {**RECIPE, "scale": 1.0, "epochs": 12, "seeds": 5, "st_seeds": 5, "rows": "full",
             "widths": [32, 64, 128, 256]},
}
# `facebehavior demo --balancing`: the demo's rows and the three balancing rows its budget leaves out
DEMO_BALANCING_ROWS: list[Row] = [*DEMO_ROWS[:6], *BALANCING_ROWS[1:], *_single_task()]
ROWS = {"demo": DEMO_ROWS, "demo_balancing": DEMO_BALANCING_ROWS, "full": FULL_ROWS}
# the learning-curve panels: validation score keys of the trainer's history
CURVES = [("eval/synth_rafdb/expr/mean_diag", "synth_rafdb expr mean diagonal (val)"),
          ("eval/synth_affectnet/expr/accuracy", "synth_affectnet expr accuracy (val)"),
          ("eval/synth_affwild/va/ccc/valence", "synth_affwild CCC-V (val)"),
          ("eval/synth_emotionet/au/f1", "synth_emotionet AU F1 at 0.5 (val)")]


def base_config(preset: dict, data_dir: Path, epochs: int, settings: dict | None = None) -> dict:
    s = {**RECIPE, **(settings or {})}
    dbs = preset["databases"]
    train = [str(data_dir / d["manifest"]) for d in dbs if d["role"] == "train"]
    test = train + [str(data_dir / d["manifest"]) for d in dbs if d["role"] == "unseen"]
    return {
        "tasks": TASKS,
        # SynthFace already varies pose, scale, position and lighting per database; geometric
        # augmentation on top slowed learning several-fold in the CPU budget, so flips and mild
        # photometric jitter only.
        # every run decodes the PNGs from the shared cache_dir copy instead of once per process
        "data": {"train": train, "test": test, "image_size": preset["size"], "batch_size": s["batch"],
                 "cache": "memory", "cache_dir": str(data_dir / "decoded"), "num_workers": 0,
                 "augment": {"flip": True, "scale": [1.0, 1.0], "rotate_deg": 0.0, "translate": 0.0,
                             "brightness": 0.1, "contrast": 0.1}},
        "model": {"backbone": "fbn", "preset": "tiny", "stem_stride": s["stem_stride"], "widths": s.get("widths")},
        "train": {"epochs": epochs, "optimizer": "adamw", "lr": s["lr"], "weight_decay": 1e-4, "schedule": "cosine",
                  "warmup_steps": 20, "progress": False, "log_every": 20, "threads": 1},
        "eval": {"protocols": {d["name"]: d["metrics"] for d in dbs if d.get("metrics")}},
    }


def label_sets(preset: dict, batch: int, tasks=None) -> list[dict]:
    """One label set per combination of tasks the training databases label (expr, expr+va, va, au),
    each an equal share of the batch. `tasks`: only databases that label one of these (single-task
    networks), their shares growing to keep the batch size. The trainer's default sizes sets in
    proportion to their rows, which gives the three AU databases half of every batch and each
    expression or VA set a sixth: measured slower (docs/results.md)."""
    groups: dict[str, list[str]] = {}
    for d in preset["databases"]:
        if d["role"] == "train" and (tasks is None or set(d["tasks"]) & set(tasks)):
            groups.setdefault("+".join(sorted(d["tasks"])), []).append(d["name"])
    return [{"name": k, "databases": v, "batch_size": batch // len(groups)} for k, v in groups.items()]


def _steps_per_epoch(preset: dict, sets: list[dict], thinned: bool, expr_only: bool = False) -> int:
    """Steps of an epoch with these label sets (the sampler's rule: the set that takes longest to use
    up). Rows are each database's train split; with scarce labels an expression-only set keeps
    SCARCE_KEEP of them, and so does every set of an expression-only network (`expr_only`)."""
    import math

    sizes = {d["name"]: d["sizes"].get("train", 0) for d in preset["databases"]}
    steps = 1
    for s in sets:
        n = sum(sizes[db] for db in s["databases"])
        if thinned and (s["name"] == "expr" or expr_only):
            n = round(SCARCE_KEEP * n)
        steps = max(steps, math.ceil(n / s["batch_size"]))
    return steps


def scarce_manifests(preset: dict, data_dir: Path, keep: float = SCARCE_KEEP, seed: int = 0) -> dict[str, str]:
    """{manifest: thinned copy} for each training database with expression labels: the copy keeps
    `keep` of its train rows' expression labels (a fixed random draw per database, the same for every
    run and row) and everything else; val and test rows are unchanged. The copy sits next to the
    manifest (its image paths stay relative to the same folder)."""
    import pandas as pd

    out = {}
    tag = f"manifest_expr{round(keep * 100)}.csv"
    for i, db in enumerate(d for d in preset["databases"] if d["role"] == "train"):
        if "expr" not in db["tasks"]:
            continue
        src = data_dir / db["manifest"]
        dst = src.with_name(tag)
        if not dst.exists() or dst.stat().st_mtime < src.stat().st_mtime:
            m = pd.read_csv(src, dtype={"expr": "Int64"})
            train = np.flatnonzero((m["split"] == "train").to_numpy() & m["expr"].notna().to_numpy())
            rng = np.random.default_rng([seed, i])
            drop = rng.permutation(train)[: len(train) - round(keep * len(train))]
            m.loc[m.index[drop], "expr"] = pd.NA
            with atomic.replacing(dst) as tmp:
                m.to_csv(tmp, index=False)
        out[str(src)] = str(dst)
    return out


def _merge(base: dict, patch: dict) -> dict:
    for k, v in patch.items():
        base[k] = _merge(base.get(k, {}), v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return base


def run_plan(preset: dict, data_dir: Path, out: Path, settings: dict, rows: list[Row] | None = None) -> list[dict]:
    """Every run as {label, group, seed, slug, config}; seed-major, so that stopping a study early
    leaves whole seeds of every row."""
    rows = rows if rows is not None else ROWS[settings.get("rows", "demo")]
    base = base_config(preset, data_dir, settings["epochs"], settings)
    thinned = scarce_manifests(preset, data_dir) if any(r.scarce for r in rows) else {}
    plan = []
    for seed in range(settings["seeds"]):
        for row in rows:
            if row.group == "single-task" and seed >= settings.get("st_seeds", 1):
                continue
            cfg = json.loads(json.dumps(base))
            slug = f"{row.slug}_s{seed}"
            cfg.update(name=slug, out_dir=str(out / "runs" / slug))
            if settings.get("equal_sets"):
                cfg["data"]["label_sets"] = label_sets(preset, settings["batch"], row.tasks)
                if row.tasks:  # the multi-task network's number of steps, validated as often
                    total = settings["epochs"] * _steps_per_epoch(preset, label_sets(preset, settings["batch"]), False)
                    per_epoch = _steps_per_epoch(preset, cfg["data"]["label_sets"], row.scarce, row.tasks == ("expr",))
                    cfg["train"].update(max_steps=total, epochs=-(-total // per_epoch),
                                        eval_every=max(1, round(total / settings["epochs"] / per_epoch)))
            if row.tasks:
                cfg["tasks"] = [t for t in TASKS if t["name"] in row.tasks]
            else:
                cfg["coupling"] = [{"multiclass": "expr", "multilabel": "au", "relatedness": "du2014",
                                    **json.loads(json.dumps(row.coupling))}]
            if row.scarce:
                cfg["data"]["train"] = [thinned.get(p, p) for p in cfg["data"]["train"]]
            cfg["train"]["seed"] = seed
            _merge(cfg, json.loads(json.dumps(row.patch)))
            plan.append({"label": row.label, "group": row.group, "seed": seed, "slug": slug, "config": cfg})
    return plan


def train_and_evaluate(cfg_dict: dict, plots: bool, resume: bool = False) -> dict:
    """One run in a worker process: train (continuing from its last checkpoint with `resume`), then
    evaluate the best checkpoint on the test splits."""
    from facebehavior.config import load_config
    from facebehavior.evaluation.report import load_results
    from facebehavior.evaluation.run import evaluate_run
    from facebehavior.studies.timing import WallClock
    from facebehavior.training.trainer import train

    from facebehavior.config import config_to_yaml

    cfg = load_config(base=cfg_dict)
    run_dir = Path(cfg_dict["out_dir"])
    saved = run_dir / "config.yaml"
    # resume only the same run: a folder left by another configuration (a changed plan) starts over
    can_resume = (resume and (run_dir / "checkpoints" / "last").exists() and saved.exists()
                  and saved.read_text() == config_to_yaml(cfg))
    if not can_resume and Path(cfg_dict["out_dir"]).exists():
        shutil.rmtree(cfg_dict["out_dir"])  # a fresh run: nothing of an older one in its folder
    with WallClock(run_dir / "timing.json", can_resume) as clock:  # summed over the sessions a resumed run took
        result = train(cfg, resume=can_resume, say=lambda *_: None)
        report = evaluate_run(result.best_checkpoint, cfg, split="test", out_dir=result.run_dir / "eval",
                              plots=plots)
    curve = [{"epoch": h["epoch"], "step": h["step"], **{k: h[k] for k, _ in CURVES if k in h}}
             for h in result.history]
    return {"results": load_results(Path(report).with_name("metrics.json")), "seconds": clock.total(),
            "device": _trained_on(), "curve": curve}


def _trained_on() -> str:
    """"cpu", or the GPU's name when this worker used CUDA: a GPU's runs differ from a CPU's beyond their
    last bits (docs/results.md), so a report must say which device each run trained on. Asked only once
    CUDA is initialised, so a CPU run never starts CUDA to answer."""
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return torch.cuda.get_device_name(torch.cuda.current_device())
    return "cpu"


def run_demo(args) -> Path:
    from facebehavior.synthface import generate_preset, read_preset

    size = "quick" if args.quick else "full" if getattr(args, "full", False) else "demo"
    settings = dict(SETTINGS[size], size=size)
    if getattr(args, "balancing", False) and size != "full":  # the full study has them already
        settings["rows"] = f"{settings['rows']}_balancing"
    if args.seeds:
        settings["seeds"] = args.seeds
        settings["st_seeds"] = min(settings["st_seeds"], args.seeds)
    t0 = time.time()
    out = Path(args.out or ("runs/study_full" if size == "full" else "runs/demo"))
    results_dir = Path(getattr(args, "results", None) or (
        "benchmarks/results/affect_study_full" if size == "full" and Path("benchmarks/results").is_dir()
        else out / "results"))
    resume = getattr(args, "resume", False) or getattr(args, "report_only", False)
    data_dir = Path(args.data or f".cache/synthface/affect{'_quick' if args.quick else ''}")
    preset_path = generate_preset("affect", data_dir, size=64, seed=0, scale=settings["scale"], workers=args.workers)
    preset = read_preset(preset_path)
    t_data = time.time() - t0
    plan = run_plan(preset, data_dir, out, settings)
    if not resume and results_dir.exists():
        for p in plan:
            (results_dir / f"{p['slug']}.json").unlink(missing_ok=True)
    runs, todo = [], []
    for p in plan:
        done = results_dir / f"{p['slug']}.json"
        if resume and done.exists():
            runs.append({**p, **json.loads(done.read_text())})
        else:
            todo.append(p)
    if todo and not getattr(args, "report_only", False):
        runs += _execute(todo, results_dir, settings, resume, max(1, args.workers))
    seconds = time.time() - t0
    return write_affect_report(out, preset, runs, settings, seconds, t_data, data_dir=data_dir,
                               planned=len(plan), results_dir=results_dir)


def _execute(todo: list[dict], results_dir: Path, settings: dict, resume: bool, workers: int) -> list[dict]:
    from tqdm import tqdm

    results_dir.mkdir(parents=True, exist_ok=True)
    runs = []
    env = environment()  # per run: a study resumed across sessions may change host
    with ProcessPoolExecutor(max_workers=workers) as pool, \
            tqdm(total=len(todo), desc=f"{settings['size']} study runs", unit="run") as bar:
        futures = {pool.submit(train_and_evaluate, p["config"], p["seed"] == 0, resume): p for p in todo}
        for fut in as_completed(futures):
            p = futures[fut]
            got = fut.result()
            record = {"label": p["label"], "group": p["group"], "seed": p["seed"], "slug": p["slug"],
                      "settings": {k: v for k, v in settings.items()}, "environment": env, **got}
            atomic.write_text(results_dir / f"{p['slug']}.json", json.dumps(record, indent=1, default=float))
            runs.append({**p, **got, "environment": env})
            bar.set_postfix_str(f"done: {p['label']} (seed {p['seed']})")
            bar.update(1)
    return runs


def table_rows(runs: list[dict], rows: list[Row]) -> dict[str, list[dict]]:
    """{row name: per-seed results} in report order; single-task networks of a seed are merged into
    one "(3×) ST-FaceBehaviorNet" result per seed (each database/task from its own network)."""
    out: dict[str, list[dict]] = {}
    for row in rows:
        if row.group == "single-task":
            name = f"{row.label.split('ST ')[0]}(ST-FaceBehaviorNet)" if row.scarce else "(3×) ST-FaceBehaviorNet"
            if name in out:
                continue
            labels = {r.label for r in rows if r.group == "single-task" and r.scarce == row.scarce}
            seeds = sorted({r["seed"] for r in runs if r["label"] in labels})
            out[name] = [m for m in (_merge_single_task([r for r in runs if r["label"] in labels and r["seed"] == s])
                                     for s in seeds) if m]
            continue
        got = [r["results"] for r in sorted(runs, key=lambda r: r["seed"]) if r["label"] == row.label]
        if got:
            out[row.label] = got
    return out


def _single_task_of(table: dict[str, list[dict]]) -> dict[str, str]:
    """{variant: the single-task row it is compared with} for every multi-task row of the table."""
    out = {}
    for name in table:
        if "ST-FaceBehaviorNet" in name:
            continue
        out[name] = "scarce: (ST-FaceBehaviorNet)" if name.startswith("scarce") else "(3×) ST-FaceBehaviorNet"
    return out


def _baselines(rows: list[Row]) -> dict[str, str]:
    """{row name in the table: its baseline}; the single-task row is compared with no coupling."""
    out = {r.label: r.baseline for r in rows if r.baseline and r.group != "single-task"}
    out["(3×) ST-FaceBehaviorNet"] = "no coupling"
    out["scarce: (ST-FaceBehaviorNet)"] = "scarce: no coupling"
    return out


def comparisons(table: dict[str, list[dict]], baselines: dict[str, str], columns, alpha: float = 0.05) -> list[dict]:
    """Every (row, column) difference to the row's baseline: mean difference, Welch's 95% interval and
    p-value, and Holm's adjusted p over all the comparisons made (the family)."""
    from facebehavior.evaluation.significance import holm, welch_difference, welch_interval

    out = []
    for name, base in baselines.items():
        if name not in table or base not in table:
            continue
        for col in columns:
            a, b = values(table[name], col), values(table[base], col)
            diff, p = welch_difference(a, b)
            if np.isnan(diff):
                continue
            low, high = welch_interval(a, b)
            out.append({"row": name, "baseline": base, "column": col[3], "diff": diff, "low": low, "high": high,
                        "p": p, "n": int((~np.isnan(a)).sum()), "n_baseline": int((~np.isnan(b)).sum())})
    adjusted = holm([c["p"] for c in out])
    for c, p in zip(out, adjusted):
        c["p_holm"] = float(p)
        c["verdict"] = ("better" if c["diff"] > 0 else "worse") if p < alpha else "no significant difference"
    return out


def verdict_lines(comps: list[dict]) -> list[str]:
    lines = []
    for row in dict.fromkeys(c["row"] for c in comps):
        mine = [c for c in comps if c["row"] == row]
        better = [c for c in mine if c["verdict"] == "better"]
        worse = [c for c in mine if c["verdict"] == "worse"]
        verdict = ("helped" if better and not worse else "hurt" if worse and not better
                   else "mixed" if better else "made no significant difference")
        cell = lambda c: f"{c['column']} ({signed(c['diff'])} [{signed(c['low'])}, {signed(c['high'])}], " \
                         f"p_Holm={c['p_holm']:.3f})"
        lines.append(f"- **{row}** vs {mine[0]['baseline']}: {verdict}. Significantly better: "
                     f"{', '.join(map(cell, better)) or 'none'}. Significantly worse: "
                     f"{', '.join(map(cell, worse)) or 'none'}.")
    if not any(np.isfinite(c["p"]) for c in comps):
        lines.append("- With one seed per row no significance test is possible.")
    return lines


def comparison_table(comps: list[dict]) -> str:
    """Rows × columns of 'difference [95% interval]', bold where Holm-significant (columns in the
    report's order: comparisons are made column by column for each row)."""
    return interval_table(comps, "row", "column", "vs its baseline",
                          lambda c: c["verdict"] != "no significant difference")


def plot_curves(runs: list[dict], names: list[str], out_png: Path) -> Path:
    """Validation learning curves: one panel per score, one line per row (mean over seeds)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 7.5))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2).ravel()
    for ax, (key, title) in zip(axes, CURVES):
        for name in names:
            curves = [r.get("curve") or [] for r in runs if r["label"] == name]
            epochs = sorted({p["epoch"] for c in curves for p in c if key in p})
            if not epochs:
                continue
            ys = [np.mean([p[key] for c in curves for p in c if p["epoch"] == e and key in p]) for e in epochs]
            ax.plot(epochs, ys, marker="o", ms=2.5, lw=1.2, label=name,
                    ls="--" if name.startswith("scarce") else "-")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    with atomic.replacing(out_png) as tmp:
        fig.savefig(tmp, dpi=100)
    return out_png


def runs_compute_line(runs: list[dict]) -> str:
    """The runs' own wall time and the CPUs they ran on, read from each run's result: a resumed study
    spans sessions (and, here, hosts), so the invocation that writes the report times none of it."""
    if not runs:
        return "No run has finished."
    minutes = [r.get("seconds", 0.0) / 60 for r in runs]
    hosts = Counter(_where(r) for r in runs)
    where = "; ".join(f"{n} on {cpu}" for cpu, n in hosts.most_common())
    line = (f"Training time recorded by the {len(runs)} runs, summed: {sum(minutes) / 60:.1f} h (median "
            f"{float(np.median(minutes)):.1f} min per run; {where}).")
    kinds = {r.get("device", "cpu") == "cpu" for r in runs}
    if len(kinds) > 1:
        line += (" **The runs mix GPU and CPU training**, whose scores differ by more than seed noise "
                 "(docs/results.md): compare rows trained on one kind of device.")
    return line


def _where(run: dict) -> str:
    """The GPU a run trained on, else its CPU (runs without a device are older: all ran on CPUs)."""
    device = run.get("device", "cpu")
    if device != "cpu":
        return f"GPU {device}"
    return (run.get("environment") or {}).get("cpu") or "CPU not recorded"


def write_affect_report(out: Path, preset: dict, runs: list[dict], settings: dict, seconds: float,
                        t_data: float, data_dir: Path | None = None, planned: int | None = None,
                        results_dir: Path | None = None) -> Path:
    from facebehavior.studies.common import plot_variant_bars
    from facebehavior.evaluation.ceiling import ceiling_columns, ceiling_scores
    from facebehavior.evaluation.report import comparison_table as results_table

    rows = ROWS[settings.get("rows", "demo")]
    env = environment()
    columns = report_columns(preset)
    table = table_rows(runs, rows)
    summary = summarise_runs(table, columns)
    ceiling = ceiling_columns(ceiling_scores(preset, data_dir), columns) if data_dir else {}
    comps = comparisons(table, _baselines(rows), columns)
    out.mkdir(parents=True, exist_ok=True)
    figure = plot_variant_bars(summary, columns, out / "figures" / "variants.png")
    curves = plot_curves(runs, [r.label for r in rows if r.group != "single-task"] + ["ST expr"],
                         out / "figures" / "learning_curves.png")
    main_rows = {k: v for k, v in table.items() if not k.startswith("scarce")}
    scarce_rows = {k: v for k, v in table.items() if k.startswith("scarce")}
    reference = _reference_lines(ceiling, columns)
    main_table = results_table(main_rows, columns, bold_best=True).rstrip("\n")
    n_runs = len(runs)
    lines = [
        f"# SynthFace affect study ({settings['size']}; Table 3 / Table 5 layout)", "",
        f"Data: SynthFace preset `affect` (scale {settings['scale']}, 64×64, seed 0, generator "
        f"{preset.get('generator', '')} {preset.get('version', '')}). Network: tiny FaceBehaviorNet "
        f"(widths {settings.get('widths') or 'tiny: 16-128'}, stem stride {settings.get('stem_stride', 2)}), "
        f"{settings['epochs']} epochs, AdamW lr {settings.get('lr')} "
        f"+ cosine, batch {settings.get('batch')} ({'an equal share per label set' if settings.get('equal_sets') else 'label sets in proportion to their rows'}), {settings['seeds']} seed(s) per coupling row, "
        f"{settings.get('st_seeds', 1)} per single-task network. Coupling relatedness: Du et al. (du2014); SynthFace "
        "draws AUs from the Aff-Wild2 empirical table. Distribution matching: the default form (bernoulli, "
        "gradient to the expression head, unlinked AUs left out), λ = 1/17; 'eq. 4 as written' is form paper, "
        "grad_to both, unlinked keep (docs/coupling.md).",
        f"Runs: {n_runs} of {planned if planned is not None else n_runs} planned"
        f"{' (a partial study: cells show n < seeds)' if planned and n_runs < planned else ''}; per-run results in "
        f"`{results_dir}`. {runs_compute_line(runs)} This invocation: {seconds / 60:.1f} min on this machine "
        f"({os.cpu_count()} CPUs, load average over the last 15 min at the end: {os.getloadavg()[2]:.1f}; data "
        f"generation {t_data:.0f} s). " + environment_line(env), "",
        "Cells: mean ± std over seeds (bold = best). Unseen databases were never trained on. *Ceiling*: what a "
        "model that perceived the generating AUs perfectly reaches (facebehavior.evaluation.ceiling: fitted on "
        "SynthFace's truth.csv of the train split, scored on test); *chance*: the best score without the image.", "",
        main_table, *reference, "", *_share_of_ceiling(summary, ceiling),
    ]
    if scarce_rows:
        lines += ["", f"## Scarce expression labels ({round(SCARCE_KEEP * 100)}% of the training expression labels "
                  "kept; AU and VA labels kept)", "", results_table(scarce_rows, columns, bold_best=True).rstrip("\n"),
                  *reference]
    transfer = negative_transfer(table, columns, _single_task_of(table))
    transfer_png = plot_transfer(transfer, out / "figures" / "negative_transfer.png") if transfer else None
    lines += ["", "## Differences to the baseline (Welch's 95% interval over seeds; Holm-corrected over all "
              f"{len(comps)} comparisons, α = 0.05)", "",
              "Each coupling row and each balancing method alone is compared with no coupling, a balancing method "
              f"combined with {BEST} with that coupling alone (scarce rows with scarce no coupling; the single-task "
              "networks with the multi-task one: a negative number there is the multi-task network doing better). "
              "Bold: significant after Holm's correction.", "", comparison_table(comps), "",
              *verdict_lines(comps), "", f"![variants]({figure.relative_to(out)})", ""]
    if transfer:
        lines += ["## Negative transfer: each multi-task variant minus the single-task networks", "",
                  "Per task and database: the variant's mean over seeds minus the single-task network's (each "
                  "task trained alone for the same number of steps), Welch's 95% interval over seeds, not corrected "
                  "for the number of cells. Below zero: sharing the network hurt that task there. Bold: the interval "
                  "excludes zero.", "", transfer_table(transfer), "", *transfer_summary(transfer), "",
                  f"![negative transfer]({transfer_png.relative_to(out)})", ""]
    lines += ["## Learning curves (validation, mean over seeds)", "", f"![curves]({curves.relative_to(out)})", "",
              "Per-run reports (per-AU F1, confusion matrices, VA scatter, training curves) are in "
              "`runs/<row>_s0/eval/`."]
    report = out / "report.md"
    atomic.write_text(report, "\n".join(lines) + "\n")
    atomic.write_text(out / "report.json", json.dumps({
        "settings": settings, "seconds": seconds, "environment": env, "columns": [list(c) for c in columns],
        "summary": summary,
        "ceiling": ceiling, "comparisons": comps, "negative_transfer": transfer,
        "runs": [{k: r.get(k) for k in ("label", "group", "seed", "seconds", "results", "curve")} for r in runs],
    }, indent=1, default=float))
    if results_dir is not None and results_dir != out / "results" and results_dir.exists():
        atomic.write_bytes(results_dir / "report.md", report.read_bytes())
        for png in (out / "figures").glob("*.png"):  # the report's images, at the paths it links
            atomic.write_bytes(results_dir / "figures" / png.name, png.read_bytes())
    print("\n".join([main_table, *reference]))
    print("\n".join(verdict_lines(comps)))
    print(f"study finished in {seconds / 60:.1f} min")
    return report


def _reference_lines(ceiling: dict, columns) -> list[str]:
    if not ceiling:
        return []
    cell = lambda h, k: "" if ceiling[h][k] is None else f"*{ceiling[h][k]:.3f}*"
    return ["| *ceiling (true AUs)* | " + " | ".join(cell(c[3], "ceiling") for c in columns) + " |",
            "| *chance* | " + " | ".join(cell(c[3], "chance") for c in columns) + " |"]


def _share_of_ceiling(summary: dict, ceiling: dict) -> list[str]:
    """One line: where the no-coupling network stands between chance and the ceiling."""
    if not ceiling or "no coupling" not in summary:
        return []
    parts = []
    for h in ("synth_rafdb expr mean_diag", "synth_affwild va CCC-V", "synth_affwild va CCC-A"):
        m, c = summary["no coupling"].get(h, {}).get("mean"), ceiling.get(h, {}).get("ceiling")
        if m is not None and c:
            parts.append(f"{h} {m:.3f} = {100 * m / c:.0f}% of the ceiling {c:.3f}")
    return [f"No coupling reaches: {'; '.join(parts)}."] if parts else []


def _merge_single_task(runs: list[dict]) -> dict:
    """One results dict from the single-task networks (each database/task from its own net)."""
    merged: dict = {}
    for r in runs:
        if r["group"] != "single-task":
            continue
        task = r["label"].split()[-1]
        for db, per_task in r["results"].items():
            if task in per_task:
                merged.setdefault(db, {})[task] = per_task[task]
    return merged
