"""The identity study on SynthFace: the paper's Table 8 (case study II) on synthetic identities.

SynthFace's `identity` preset mirrors CelebA: every identity appears in train, val and test (the
paper's subject-dependent re-split); stable traits (sex, age, hair, face shape) are attributes
fixed per identity, while glasses, hats, lipstick, fringe, beard or a smile come and go per
image with the identity's own propensity. The study trains, as in Table 8: two single-task
FaceBehaviorNets (ids only, attributes only), the multi-task one without coupling and with
distribution matching (p(attr | id) estimated from the training split, eq. 10–11), over several
seeds; and ResNet-50, DenseNet-121 and VGG-16 (timm, from scratch) multi-task without coupling,
one seed each on a fixed, much smaller step budget (they cost 25–250× more per step on a CPU).
Every network is scored on the test split with the CelebA protocol: total accuracy and average
F1 for ids and for attributes. Runs go `workers` at a time in separate processes, one thread
each (small convolutions scale poorly across threads; two processes use both cores fully).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import time
from pathlib import Path

from facebehavior import atomic
from facebehavior.labels import resolve_labels
from facebehavior.studies.common import environment, environment_line

DATABASE = "synth_celeba"
# Table 8's columns: (database, task, metric, header).
COLUMNS = [(DATABASE, "identity", "total_accuracy", "Ids Acc"), (DATABASE, "identity", "average_f1", "Ids F1"),
           (DATABASE, "attributes", "total_accuracy", "Attr Acc"), (DATABASE, "attributes", "average_f1", "Attr F1")]
PROTOCOL = {"identity": ["total_accuracy", "average_f1"],
            "attributes": ["total_accuracy", "average_f1", "per_label_f1"]}


def dm_coupling(n_attributes: int, as_written: bool = True) -> dict:
    """Eq. 10–11 as configs/paper_celeba.yaml: weighted p(attr | id) estimated from the training split,
    weight 1/K so each attribute's DM term weighs as its (mean-reduced) BCE term, as eq. 9 + 11 do.
    `as_written`: the paper's form (paper / grad_to both / unlinked keep); otherwise the library's
    default (bernoulli / grad_to multiclass / unlinked drop: the attribute predictions teach the
    identity head and are never lowered by the term; docs/coupling.md)."""
    form = {"form": "paper", "grad_to": "both", "unlinked": "keep"} if as_written else {}
    return {"multiclass": "identity", "multilabel": "attributes", "relatedness": "estimate",
            "distribution_matching": {"enabled": True, "weight": 1 / n_attributes,
                                      "relatedness_mode": "weighted", **form}}


# Table 8's rows, top to bottom, and the runs behind each.
FBN_ROWS = {"(2×) ST-FaceBehaviorNet": ("st_identity", "st_attributes"),
            "FaceBehaviorNet, no coupling": ("mt",), "FaceBehaviorNet, distr-matching": ("mt_dm",),
            "FaceBehaviorNet, distr-matching (default form)": ("mt_dm_default",)}
DM_ROWS = ["FaceBehaviorNet, distr-matching", "FaceBehaviorNet, distr-matching (default form)"]
TIMM_ROWS = {"MT-VGG-16": "vgg16", "MT-ResNet-50": "resnet50", "MT-DenseNet-121": "densenet121"}
# CPU recipe (the paper's SGD at 1e-4 needs days on a GPU): AdamW + cosine, the same input size for
# every network. `timm_steps`: training steps of each timm network (batch 64), sized to the budget
# (CPU seconds per step at 48×48, one thread: VGG-16 ~19, ResNet-50 ~3, DenseNet-121 ~2.2, tiny
# FaceBehaviorNet ~0.08; testing 800 images costs VGG-16 another ~60).
FULL = {"scale": 0.5, "size": 48, "epochs": 8, "seeds": 3, "batch": 64,
        "timm_steps": {"vgg16": 3, "resnet50": 30, "densenet121": 40}}
QUICK = {"scale": 0.1, "size": 32, "epochs": 3, "seeds": 1, "batch": 64,
         "timm_steps": {"vgg16": 1, "resnet50": 2, "densenet121": 2}}
# Relative cost of a run, to start the longest first: (per step, fixed: build + test).
_COST = {"vgg16": (19.0, 70.0), "resnet50": (3.0, 15.0), "densenet121": (2.2, 12.0), "fbn": (0.08, 8.0)}


def _tasks(preset_db: dict) -> list[dict]:
    specs = preset_db["task_specs"]
    return [{"name": name, **specs[name]} for name in ("identity", "attributes")]


def base_config(preset: dict, data_dir: Path, settings: dict) -> dict:
    (db,) = [d for d in preset["databases"] if d["role"] == "identity"]
    manifest = str(data_dir / db["manifest"])
    return {
        "tasks": _tasks(db),
        "data": {"train": [manifest], "test": [manifest], "image_size": settings["size"],
                 "batch_size": settings["batch"], "cache": "memory", "num_workers": 0,
                 "cache_dir": str(data_dir / "decoded")},
        "model": {"backbone": "fbn", "preset": "tiny"},
        "coupling": [],
        "train": {"epochs": settings["epochs"], "optimizer": "adamw", "lr": 3e-3, "weight_decay": 1e-4,
                  "schedule": "cosine", "warmup_steps": 20, "progress": False, "log_every": 20, "threads": 1},
        "eval": {"tune_thresholds": False, "protocols": {DATABASE: PROTOCOL}},
    }


def _run(key: str, seed: int, cfg: dict, out: Path, cost: float) -> dict:
    cfg = copy.deepcopy(cfg)
    cfg.update(name=f"{key}_s{seed}", out_dir=str(out / "runs" / f"{key}_s{seed}"))
    cfg["train"]["seed"] = seed
    return {"key": key, "seed": seed, "config": cfg, "cost": cost}


def run_plan(preset: dict, data_dir: Path, out: Path, settings: dict) -> list[dict]:
    """Every run (key, seed, config dict), longest first."""
    base = base_config(preset, data_dir, settings)
    n_train = next(d for d in preset["databases"] if d["role"] == "identity")["sizes"]["train"]
    fbn_cost = _COST["fbn"][0] * settings["epochs"] * n_train / settings["batch"] + _COST["fbn"][1]
    plan = []
    for seed in range(settings["seeds"]):
        for task in base["tasks"]:
            cfg = copy.deepcopy(base)
            cfg["tasks"] = [task]
            plan.append(_run(f"st_{task['name']}", seed, cfg, out, fbn_cost / 2))
        plan.append(_run("mt", seed, base, out, fbn_cost))
        n_attributes = len(resolve_labels(base["tasks"][1]["labels"]))
        plan.append(_run("mt_dm", seed, {**base, "coupling": [dm_coupling(n_attributes)]}, out, fbn_cost * 1.05))
        plan.append(_run("mt_dm_default", seed, {**base, "coupling": [dm_coupling(n_attributes, as_written=False)]},
                         out, fbn_cost * 1.05))
    no_val = out / "no_validation.csv"  # a header-only manifest: timm runs skip per-epoch validation
    for name, steps in settings["timm_steps"].items():
        cfg = copy.deepcopy(base)
        cfg["model"] = {"backbone": f"timm:{name}"}
        cfg["data"]["val"] = [str(no_val)]
        cfg["train"].update(epochs=1 + steps * settings["batch"] // n_train, max_steps=steps,
                            warmup_steps=min(20, steps // 4))
        per_step, fixed = _COST[name]
        plan.append(_run(name, 0, cfg, out, per_step * steps + fixed))
    return sorted(plan, key=lambda p: -p["cost"])


def train_and_evaluate(cfg_dict: dict) -> dict:
    """One run in a worker process: train, then evaluate the best checkpoint on the test split."""
    from facebehavior.config import load_config
    from facebehavior.evaluation.report import load_results
    from facebehavior.evaluation.run import evaluate_run
    from facebehavior.training.trainer import train

    t0 = time.time()
    cfg = load_config(base=cfg_dict)
    result = train(cfg, say=lambda *_: None)
    report = evaluate_run(result.best_checkpoint, cfg, split="test", out_dir=result.run_dir / "eval", plots=False)
    steps = max((r["step"] for r in result.history), default=0)
    # the demo never resumes: drop the optimiser state, and the weights of the big timm networks
    # (VGG-16 alone writes 1.6 GB); FaceBehaviorNet's best weights (a few MB) stay for inspection
    shutil.rmtree(result.last_checkpoint, ignore_errors=True)
    if cfg.model.backbone != "fbn":
        shutil.rmtree(result.best_checkpoint, ignore_errors=True)
    return {"results": load_results(Path(report).with_name("metrics.json")), "seconds": time.time() - t0,
            "steps": steps}


def run_demo(args) -> Path:
    import multiprocessing

    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm import tqdm

    from facebehavior.synthface import generate_preset, read_preset

    settings = copy.deepcopy(QUICK if args.quick else FULL)
    if args.seeds:
        settings["seeds"] = args.seeds
    t0, load_before = time.time(), os.getloadavg()
    out = Path(args.out or "runs/demo_identity")
    data_dir = Path(args.data or f".cache/synthface/identity{'_quick' if args.quick else ''}")
    workers = max(1, args.workers or 1)
    preset = read_preset(generate_preset("identity", data_dir, size=settings["size"], seed=0,
                                         scale=settings["scale"], workers=workers))
    t_data = time.time() - t0
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out / "no_validation.csv", "path,database,split\n")
    plan = run_plan(preset, data_dir, out, settings)
    print(f"SynthFace identity data ready in {t_data:.0f} s; {len(plan)} runs, {workers} at a time")
    runs = []
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no forked torch thread pools
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool, \
            tqdm(total=len(plan), desc="identity demo runs", unit="run") as bar:
        futures = {pool.submit(train_and_evaluate, p["config"]): p for p in plan}
        for fut in as_completed(futures):
            p = futures[fut]
            runs.append({**p, **fut.result()})
            bar.set_postfix_str(f"done: {p['key']} seed {p['seed']} ({runs[-1]['seconds']:.0f} s)")
            bar.update(1)
    relatedness = relatedness_excerpt(preset, data_dir)
    timing = {"seconds": time.time() - t0, "data_seconds": t_data, "cpu_seconds": _cpu_seconds(),
              "cores": os.cpu_count(), "load_before": load_before, "load_after": os.getloadavg()}
    return write_identity_report(out, preset, runs, settings, timing, relatedness)


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (generation and training workers)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def relatedness_excerpt(preset: dict, data_dir: Path, n_ids: int = 5) -> str:
    """Table 2 for the first identities: p(attr | id) estimated from the training split."""
    from facebehavior.config import TaskConfig
    from facebehavior.data.manifest import encode_labels, read_manifest
    from facebehavior.relatedness import estimate_relatedness

    (db,) = [d for d in preset["databases"] if d["role"] == "identity"]
    tasks = [TaskConfig(**t).spec() for t in _tasks(db)]
    frame = read_manifest(data_dir / db["manifest"], tasks).split("train").frame
    labels = encode_labels(frame, tasks)
    rel, _ = estimate_relatedness(labels["identity"], labels["attributes"], tasks[0].labels, tasks[1].labels)
    shown = ["Male", "Young", "Eyeglasses", "Wearing_Hat", "Wearing_Lipstick", "Bangs", "Smiling", "No_Beard"]
    view = rel.to_frame().loc[list(tasks[0].labels[:n_ids]), [a for a in shown if a in tasks[1].labels]]
    lines = ["| identity | " + " | ".join(view.columns) + " |", "|---" * (len(view.columns) + 1) + "|"]
    lines += [f"| # {i} | " + " | ".join(f"{v:.5f}" for v in row) + " |" for i, row in enumerate(view.to_numpy())]
    return "\n".join(lines)


def _percent(results: dict) -> dict:
    """The table's metrics in percent, as Table 8 prints them."""
    out = copy.deepcopy(results)
    for db, task, metric, _ in COLUMNS:
        value = out.get(db, {}).get(task, {}).get(metric)
        if value is not None:
            out[db][task][metric] = 100 * value
    return out


def table_rows(runs: list[dict]) -> dict[str, list[dict]]:
    """Table 8's rows: each a list of results dicts (one per seed); the two ST nets merged per seed."""
    by_key: dict[str, dict[int, dict]] = {}
    for r in runs:
        by_key.setdefault(r["key"], {})[r["seed"]] = _percent(r["results"])
    rows: dict[str, list[dict]] = {}
    for label, name in TIMM_ROWS.items():
        if name in by_key:
            rows[label] = list(by_key[name].values())
    for label, keys in FBN_ROWS.items():
        seeds = sorted(set.intersection(*(set(by_key.get(k, {})) for k in keys)))
        merged = []
        for seed in seeds:
            combined: dict = {}
            for key in keys:  # each task's numbers from the network trained for it
                task = key.removeprefix("st_") if key.startswith("st_") else None
                for db, per_task in by_key[key][seed].items():
                    for t, values in per_task.items():
                        if task is None or t == task:
                            combined.setdefault(db, {})[t] = values
            merged.append(combined)
        rows[label] = merged
    return rows


def write_identity_report(out: Path, preset: dict, runs: list[dict], settings: dict, timing: dict,
                          relatedness: str) -> Path:
    from facebehavior.studies.common import compare_to_baseline, plot_variant_bars, summarise_runs
    from facebehavior.evaluation.report import comparison_table

    rows = table_rows(runs)
    table = comparison_table(rows, COLUMNS, digits=2, bold_best=True)
    fbn = {k: rows[k] for k in ("FaceBehaviorNet, no coupling", *DM_ROWS, "(2×) ST-FaceBehaviorNet")}
    verdicts = compare_to_baseline(fbn, "FaceBehaviorNet, no coupling", COLUMNS)
    per_attribute = per_attribute_f1(rows, ["FaceBehaviorNet, no coupling", *DM_ROWS])
    summary = summarise_runs(rows, COLUMNS)
    figure = plot_variant_bars(summary, COLUMNS, out / "figures" / "table8.png")
    lines = report_lines(preset, runs, settings, timing, table, verdicts, relatedness, per_attribute)
    lines += ["", f"![Table 8 rows]({figure.relative_to(out)})"]
    report = out / "report.md"
    atomic.write_text(report, "\n".join(lines) + "\n")
    atomic.write_text(out / "report.json", json.dumps({
        "settings": settings, "timing": timing, "environment": environment(), "columns": [list(c) for c in COLUMNS],
        "summary": summary, "verdicts": verdicts,
        "runs": [{k: r[k] for k in ("key", "seed", "seconds", "steps", "results")} for r in runs],
    }, indent=1, default=float))
    print(table)
    print("\n".join(verdicts))
    print(f"identity demo finished in {timing['seconds'] / 60:.1f} min wall, {timing['cpu_seconds'] / 60:.1f} min "
          f"CPU (data {timing['data_seconds']:.0f} s; load average {timing['load_before'][0]:.1f} before, "
          f"{timing['load_after'][0]:.1f} after, {timing['cores']} cores)")
    return report


def per_attribute_f1(rows: dict[str, list[dict]], names: list[str]) -> list[str]:
    """Markdown table: each attribute's test F1 (percent, mean over seeds) for the given rows."""
    import numpy as np

    means: dict[str, dict[str, float]] = {}
    for name in names:
        for results in rows[name]:
            for key, value in results.get(DATABASE, {}).get("attributes", {}).items():
                if key.startswith("f1/"):
                    means.setdefault(key[3:], {}).setdefault(name, []).append(100 * value)
    diffs = [f"difference ({n.split(', ')[-1]})" if len(names) > 2 else "difference" for n in names[1:]]
    lines = ["| attribute | " + " | ".join(names + diffs) + " |", "|---" * (2 * len(names)) + "|"]
    for attr, by_name in means.items():
        vals = [float(np.mean(by_name[n])) if n in by_name else float("nan") for n in names]
        lines.append(f"| {attr} | " + " | ".join(f"{v:.1f}" for v in vals) + " | "
                     + " | ".join(f"{v - vals[0]:+.1f}" for v in vals[1:]) + " |")
    return lines


def _budget_lines(runs: list[dict], settings: dict) -> list[str]:
    lines = [f"| run | seeds | training steps (batch {settings['batch']}) | wall time per run (s) |",
             "|---|---|---|---|"]
    for key in sorted({r["key"] for r in runs}):
        mine = [r for r in runs if r["key"] == key]
        steps = ", ".join(map(str, sorted({r["steps"] for r in mine})))
        secs = [r["seconds"] for r in mine]
        spread = f"{min(secs):.0f}–{max(secs):.0f}" if len(secs) > 1 else f"{secs[0]:.0f}"
        lines.append(f"| {key} | {len(mine)} | {steps} | {spread} |")
    return lines


def report_lines(preset, runs, settings, timing, table, verdicts, relatedness, per_attribute) -> list[str]:
    (db,) = [d for d in preset["databases"] if d["role"] == "identity"]
    n_ids, sizes = db["subjects"]["train"], db["sizes"]
    timm = ", ".join(f"{name} {steps} step{'s' * (steps != 1)}" for name, steps in settings["timm_steps"].items())
    load = f"{timing['load_before'][0]:.1f} before, {timing['load_after'][0]:.1f} after"
    return [
        "# SynthFace identity study (Table 8 layout)", "",
        f"Data: SynthFace preset `identity` (scale {settings['scale']}: {n_ids} identities; "
        f"{sizes['train']} train / {sizes['val']} val / {sizes['test']} test images, every identity in every "
        f"split), {settings['size']}×{settings['size']}, seed 0, generator {preset.get('version', '')}.",
        f"FaceBehaviorNet rows: tiny preset, {settings['epochs']} epochs, {settings['seeds']} seed(s); best "
        "epoch by validation total accuracy (mean of ids and attributes). Distribution matching: eq. 10–11 "
        "as written (Σ −p log q, gradients to both tasks, every attribute) and, in the '(default form)' row, "
        "the library's default (Bernoulli form, gradient to the identity head only, attributes no identity "
        "links to left out; docs/coupling.md); both with q from p(attr | id) estimated from the training "
        "split (weighted), weight 1/K for K attributes (eq. 9 and 11 both sum over attributes; our attribute "
        "BCE is a mean) — the settings of configs/paper_celeba.yaml.",
        f"timm rows (from scratch, multi-task, no coupling, one seed): **reduced budget** — {timm} at "
        f"batch {settings['batch']}, no validation, last weights. They cost 25–250× more per step than the "
        "tiny FaceBehaviorNet on a CPU; their numbers show networks trained far less, not a fair "
        "architecture comparison.",
        f"All: AdamW lr 3e-3 + cosine (not the paper's SGD 1e-4: a CPU budget), batch {settings['batch']}, "
        "input in [-1, 1], flips/small affine augmentation, one thread per run, "
        f"runs in parallel processes. Attributes scored at threshold 0.5.",
        f"**Wall time: {timing['seconds'] / 60:.1f} min** ({timing['cpu_seconds'] / 60:.1f} min of CPU time; "
        f"data generation {timing['data_seconds']:.0f} s) on {timing['cores']} cores, load average {load} "
        "(other jobs on the machine slow the wall time down). " + environment_line(environment()), "",
        "Cells: test split, percent, mean ± std over seeds (bold = best). Ids F1 is the macro F1 over "
        "identities; Attr Acc / F1 are means over attributes. The ST row takes ids from the ids-only "
        "network and attributes from the attributes-only network of the same seed.", "",
        table, "",
        "## Did distribution matching help? (each row vs FaceBehaviorNet without coupling; Welch t-test over "
        "seeds, α = 0.05)", "", *verdicts, "",
        "### Test F1 per attribute (percent, mean over seeds)", "", *per_attribute, "",
        "## Task relatedness estimated from the training split (Table 2 layout, first identities)", "",
        relatedness, "",
        "## Training budget per run", "", *_budget_lines(runs, settings), "",
        "The paper's Table 8 (CelebA, for orientation only): MT-VGG-FACE 80.07 / 72.2 / 89.87 / 70.24; "
        "MT-ResNet 80.83 / 72.9 / 90.11 / 71.38; MT-DenseNet 78.11 / 70.02 / 87.57 / 67.88; (2×) ST "
        "80.43 / 73.5 / 90.07 / 71.78; no coupling 82.71 / 75.6 / 91.98 / 72.67; distr-matching 87.28 / 81.5 "
        "/ 93.22 / 74.97.", "",
        "Per-run reports (per-attribute F1, training log) are in `runs/<run>/eval/` and `runs/<run>/log.jsonl`.",
    ]
