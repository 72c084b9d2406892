"""The compound study on SynthFace: zero-shot vs few-shot vs training from scratch, against k.

For each trained model (e.g. with and without coupling) it measures the mean diagonal of the
confusion matrix on a compound test set of
- zero-shot eq. 8 (no compound training image),
- few-shot fine-tuning with k = 1, 5, 10, 50 and all training images per class (several seeds),
and, once (it does not depend on the model), the same network trained from scratch on the same
k-shot samples (same seeds, same head, random backbone). Results: JSON, a markdown table and a
plot of mean diagonal against k.

SynthFace's own compound database has 20 training images per class at scale 1, too few for
k = 50, so `make_study_set` renders a dedicated compound set with the SynthFace generator (same
process, same nuisance profile as ``synth_compound``, its own database name and therefore its own
random streams and subjects; train and test subjects are disjoint).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from facebehavior import atomic
from facebehavior.errors import FaceBehaviorError

STUDY_DATABASE = "synth_compound_study"
STUDY_SET_VERSION = 1
DEFAULT_SHOTS = (1, 5, 10, 50, None)


def _study_spec(per_class_train: int, per_class_test: int):
    from facebehavior.synthface.affect import COMPOUND_CLASSES
    from facebehavior.synthface.presets import affect_databases

    base = next(db for db in affect_databases() if db.role == "compound")
    c = len(COMPOUND_CLASSES)
    # compound images come with their classes in turn, so every split is exactly balanced
    sizes = {"train": c * per_class_train, "test": c * per_class_test}
    subjects = {k: max(2, v // 2) for k, v in sizes.items()}  # about two images per person, like synth_compound
    return dataclasses.replace(base, name=STUDY_DATABASE, sizes=sizes, subjects=subjects,
                               note="compound study set: more training images per class for k-shot learning")


def make_study_set(out_dir, per_class_train: int = 100, per_class_test: int = 60, size: int = 64,
                   seed: int = 0) -> Path:
    """Render (or reuse) the study's compound set; return its manifest path.

    Columns as SynthFace's ``synth_compound``: ``compound`` (index into `COMPOUND_CLASSES`, Du
    table order), the 17 AU columns and valence/arousal.
    """
    from facebehavior.data.manifest import read_manifest, write_manifest
    from facebehavior.synthface import SYNTHFACE_VERSION, task_specs
    from facebehavior.synthface.worker import render_chunk
    from facebehavior.labels import AU_NAMES

    out = Path(out_dir)
    key = {"version": STUDY_SET_VERSION, "synthface": SYNTHFACE_VERSION, "per_class_train": per_class_train,
           "per_class_test": per_class_test, "size": size, "seed": seed}
    manifest, stamp = out / "manifest.csv", out / "study_set.json"
    if manifest.is_file() and stamp.is_file() and json.loads(stamp.read_text()) == key:
        return manifest
    spec = _study_spec(per_class_train, per_class_test)
    columns, _ = render_chunk((spec, seed, size, str(out), 0, sum(spec.sizes.values())))
    frame = pd.DataFrame(columns)
    frame = frame.astype({c: "Int64" for c in ("expr", "compound", *AU_NAMES)})
    write_manifest(frame, manifest)
    read_manifest(manifest, task_specs(spec))  # the checks every reader applies: fail here, not mid-study
    atomic.write_text(stamp, json.dumps(key))
    return manifest


def _zero_shot(checkpoint, manifest, classes, label_space, out: Path) -> dict:
    from facebehavior.compound.evaluate import evaluate_zero_shot

    result = evaluate_zero_shot(checkpoint, manifest, classes, label_space, "test", out, explain_rows=5)
    return {k: result["metrics"][k] for k in ("mean_diag", "macro_f1", "accuracy", "n")}


def oracle_zero_shot(manifest, classes, label_space: str) -> dict:
    """Eq. 8 with the generator's true AUs (0/1) and valence in place of the network's predictions,
    and no expression term (compound images have no basic-expression label): what the AU and valence
    terms alone reach with a perfect AU detector. Optimistic: SynthFace draws compound AUs from the
    same Du et al. table that eq. 8 uses. Ties (frequent with 0/1 AUs) are broken at random."""
    from facebehavior.compound.classes import label_space as get_space, resolve_classes
    from facebehavior.compound.evaluate import compound_metrics, load_compound_rows
    from facebehavior.compound.zeroshot import zero_shot_scores
    from facebehavior.labels import AU_NAMES, EXPRESSIONS

    cs = resolve_classes(classes)
    rows = load_compound_rows(manifest, get_space(label_space), cs, "test")
    frame = rows.manifest.frame
    au = frame[list(AU_NAMES)].to_numpy(float)
    va = frame[["valence", "arousal"]].to_numpy(float)
    if np.isnan(au).any() or np.isnan(va).any():
        raise FaceBehaviorError(f"{manifest}: the oracle needs every AU and valence labelled on the test rows")
    probs = {"expr": np.zeros((len(frame), len(EXPRESSIONS))), "au": au, "va": va}
    scores, _ = zero_shot_scores(probs, cs)
    scores = scores + np.random.default_rng(0).uniform(0, 1e-6, scores.shape)
    m = compound_metrics(rows.targets, scores, cs.names)
    return {k: m[k] for k in ("mean_diag", "macro_f1", "accuracy", "n")}


def network_diagnostics(checkpoint, manifest, classes, label_space: str) -> dict:
    """How much of eq. 8's input the network gets right on the compound test rows: the mean ROC AUC
    of its AU probabilities against the true AUs, and how often its valence has the true sign."""
    from sklearn.metrics import roc_auc_score

    from facebehavior.compound.classes import label_space as get_space, resolve_classes
    from facebehavior.compound.evaluate import load_compound_rows, model_outputs
    from facebehavior.labels import AU_NAMES
    from facebehavior.models.checkpoint import load_model

    model, _, cfg = load_model(checkpoint)
    rows = load_compound_rows(manifest, get_space(label_space), resolve_classes(classes), "test")
    out = model_outputs(model, rows.table(cfg.data.image_size), cfg.task_specs(), "cpu")
    truth = rows.manifest.frame
    auc = {a: float(roc_auc_score(truth[a].astype(int), out["au"][:, j])) for j, a in enumerate(AU_NAMES)
           if truth[a].nunique() == 2}
    sign = float(np.mean((out["va"][:, 0] > 0) == (truth["valence"].to_numpy(float) > 0)))
    mean_auc = float(np.mean(list(auc.values()))) if auc else None  # None: no AU both present and absent
    return {"au_auc_mean": mean_auc, "au_auc": auc, "valence_sign_accuracy": sign}


def _series(checkpoint, manifest, classes, label_space, shots, seeds, settings, scratch: bool, say) -> list[dict]:
    from facebehavior.compound.fewshot import run_finetune

    points = []
    for k in shots:
        t0 = time.time()
        r = run_finetune(checkpoint, manifest, classes, label_space, k, seeds, settings, None, scratch=scratch)
        per_class = r["runs"][0]["n_train"] // len(r["classes"])
        points.append({"shots": k, "per_class": per_class, "mean_diag": r["summary"]["mean_diag"],
                       "macro_f1": r["summary"]["macro_f1"],
                       "per_seed": [run["metrics"]["mean_diag"] for run in r["runs"]],
                       "steps": r["runs"][0]["steps"], "seconds": round(time.time() - t0, 1)})
        say(f"  {'scratch' if scratch else 'fine-tune'} {k or 'all'}-shot: mean diag "
            f"{points[-1]['mean_diag']['mean']:.3f} ± {points[-1]['mean_diag']['std']:.3f} "
            f"({points[-1]['seconds']} s)")
    return points


def _same_architecture(checkpoints: dict) -> None:
    from facebehavior.models.checkpoint import read_meta

    models = {name: read_meta(path).config["model"] for name, path in checkpoints.items()}
    sizes = {name: read_meta(path).config["data"]["image_size"] for name, path in checkpoints.items()}
    if len({json.dumps(m, sort_keys=True) for m in models.values()}) > 1 or len(set(sizes.values())) > 1:
        raise FaceBehaviorError(f"the study's models must share one architecture and image size (the scratch "
                                f"baseline is trained once for all); got {models} at sizes {sizes}")


def run_compound_study(checkpoints: dict, manifest, out_dir, classes="rafdb", label_space: str = "synthface",
                       shots=DEFAULT_SHOTS, seeds=(0, 1, 2), settings=None, scratch: bool = True,
                       extra_zero_shot: tuple = ("du2014",), say=print) -> dict:
    """Run the study for `checkpoints` ({label: checkpoint folder}) on a compound manifest with train
    and test splits; write ``compound_study.json``, ``compound_study.md`` and ``compound_study.png``
    into `out_dir` and return the results. `extra_zero_shot`: further class sets scored zero-shot only."""
    from facebehavior.compound.classes import resolve_classes
    from facebehavior.compound.fewshot import FinetuneSettings

    settings = settings or FinetuneSettings()
    out = Path(out_dir)
    _same_architecture(checkpoints)
    cs = resolve_classes(classes)
    results = {"classes": list(cs.names), "label_space": label_space, "manifest": str(manifest),
               "seeds": list(seeds), "settings": dataclasses.asdict(settings), "models": {}}
    t0 = time.time()
    results["oracle_zero_shot"] = oracle_zero_shot(manifest, cs.names, label_space)
    for name, ckpt in checkpoints.items():
        say(f"model {name}: {ckpt}")
        zs = _zero_shot(ckpt, manifest, cs.names, label_space, out / "details" / name / "zeroshot")
        extra = {c: _zero_shot(ckpt, manifest, c, label_space, out / "details" / name / f"zeroshot_{c}")
                 for c in extra_zero_shot}
        diagnostics = network_diagnostics(ckpt, manifest, cs.names, label_space)
        say(f"  zero-shot: mean diag {zs['mean_diag']:.3f} (AU AUC {diagnostics['au_auc_mean']}, "
            f"valence sign right {diagnostics['valence_sign_accuracy']:.3f})")
        results["models"][name] = {"checkpoint": str(ckpt), "zero_shot": zs, "zero_shot_other_sets": extra,
                                   "diagnostics": diagnostics,
                                   "few_shot": _series(ckpt, manifest, cs.names, label_space, shots, seeds,
                                                       settings, False, say)}
    if scratch:
        say("from scratch (random weights, same architecture):")
        first = next(iter(checkpoints.values()))
        # from scratch means everything trains, whatever the fine-tuning recipe freezes
        results["scratch"] = _series(first, manifest, cs.names, label_space, shots, seeds,
                                     dataclasses.replace(settings, freeze="none"), True, say)
    results["seconds"] = round(time.time() - t0, 1)
    write_study(results, out)
    return results


def _fmt(point: dict) -> str:
    m = point["mean_diag"]
    return f"{m['mean']:.3f} ± {m['std']:.3f}"


def study_markdown(results: dict) -> str:
    names = list(results["models"])
    first = results["models"][names[0]]["few_shot"]
    header = ["method", *[f"k={p['shots'] or 'all'} ({p['per_class']}/class)" for p in first]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in names:
        m = results["models"][name]
        lines.append(f"| zero-shot, {name} | {m['zero_shot']['mean_diag']:.3f} (no training image) |"
                     + " |" * (len(header) - 2))
    for name in names:
        lines.append(f"| fine-tuned, {name} | " + " | ".join(_fmt(p) for p in results["models"][name]["few_shot"])
                     + " |")
    if results.get("scratch"):
        lines.append("| from scratch | " + " | ".join(_fmt(p) for p in results["scratch"]) + " |")
    diag = {n: results["models"][n].get("diagnostics") for n in names}
    notes_diag = [f"- {n}: on the compound test rows, mean AU ROC AUC {d['au_auc_mean']:.3f}, valence sign right "
                  f"{d['valence_sign_accuracy']:.3f}" for n, d in diag.items() if d and d["au_auc_mean"] is not None]
    oracle = results.get("oracle_zero_shot")
    if oracle:
        lines.append(f"| zero-shot with the true AUs and valence (oracle, no F_emo) | {oracle['mean_diag']:.3f} |"
                     + " |" * (len(header) - 2))
    other = {n: results["models"][n].get("zero_shot_other_sets", {}) for n in names}
    notes = [f"- zero-shot on {c}: " + ", ".join(f"{n} {other[n][c]['mean_diag']:.3f}" for n in names)
             for c in results["models"][names[0]].get("zero_shot_other_sets", {})]
    return "\n".join(lines + [""] + notes + notes_diag + welch_lines(results)) + "\n"


def welch_lines(results: dict) -> list[str]:
    """Welch's t-test over seeds of mean diagonal, per k: each pre-trained model vs from scratch,
    and the first model vs the second (e.g. coupling vs no coupling)."""
    from facebehavior.evaluation.significance import welch_difference

    def seeds(points) -> dict:
        return {p["per_class"]: p.get("per_seed") or [] for p in points}

    models = {n: seeds(m["few_shot"]) for n, m in results["models"].items()}
    pairs = [(n, "from scratch", models[n], seeds(results["scratch"])) for n in models] if results.get("scratch") else []
    names = list(models)
    if len(names) > 1:
        pairs.append((names[0], names[1], models[names[0]], models[names[1]]))
    lines = []
    for a, b, left, right in pairs:
        cells = []
        for k in left:
            diff, p = welch_difference(left[k], right.get(k, []))
            if not np.isnan(p):  # testable: two or more seeds a side, not all identical
                cells.append(f"k={k}: {diff:+.3f} (p={p:.3f})")
        if cells:
            lines.append(f"- {a} vs {b}, mean diagonal difference (Welch's t-test over seeds): " + ", ".join(cells))
    return lines


def plot_study(results: dict, out_png) -> Path:
    """Mean diagonal against k (log axis; 'all' at its images per class), one line per method."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:purple"]
    series = [(f"fine-tuned, {n}", m["few_shot"], colours[i % 4]) for i, (n, m) in enumerate(results["models"].items())]
    if results.get("scratch"):
        series.append(("from scratch", results["scratch"], "tab:gray"))
    for label, points, colour in series:
        x = [p["per_class"] for p in points]
        y = [p["mean_diag"]["mean"] for p in points]
        err = [p["mean_diag"]["std"] for p in points]
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=label, color=colour)
    for i, (name, m) in enumerate(results["models"].items()):
        ax.axhline(m["zero_shot"]["mean_diag"], ls="--", color=colours[i % 4], label=f"zero-shot, {name}")
    if results.get("oracle_zero_shot"):
        ax.axhline(results["oracle_zero_shot"]["mean_diag"], ls="-.", color="black", lw=0.8,
                   label="zero-shot with true AUs + valence")
    ax.axhline(1 / len(results["classes"]), ls=":", color="black", label="chance")
    ax.set_xscale("log")
    ax.set(xlabel="training images per class (k)", ylabel="mean diagonal of the confusion matrix",
           title=f"compound expressions ({len(results['classes'])} classes)", ylim=(0, 1))
    ax.legend(fontsize=7)
    with atomic.replacing(out_png) as tmp:
        fig.savefig(tmp, dpi=110)
    return Path(out_png)


def write_study(results: dict, out_dir) -> dict[str, Path]:
    from facebehavior.evaluation.report import to_jsonable

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "compound_study.json", "markdown": out / "compound_study.md",
             "png": out / "compound_study.png"}
    atomic.write_text(paths["json"], json.dumps(to_jsonable(results), indent=1, allow_nan=False) + "\n")
    atomic.write_text(paths["markdown"], study_markdown(results))
    plot_study(results, paths["png"])
    return paths


# ---- the study end to end (benchmarks/compound_study.py) ----------------------------------------------

COUPLING = {"multiclass": "expr", "multilabel": "au", "relatedness": "du2014",
            "soft_coannotation": {"enabled": True}, "distribution_matching": {"enabled": True}}


def base_config(data: Path, out: Path, coupling: bool, epochs: int, seed: int) -> dict:
    """A tiny fbn on every training database of the preset, with or without the paper's best coupling
    (the recipe of `facebehavior demo --study affect`: AdamW 3e-3, cosine, batch 192)."""
    from facebehavior.synthface import read_preset

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
    import argparse

    p = argparse.ArgumentParser(prog="benchmarks/compound_study.py",
                                description="Compound expressions on SynthFace: zero-shot vs few-shot vs from "
                                            "scratch, with and without coupling.")
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
    """The whole study (`benchmarks/compound_study.py` calls this): trains the two base models unless
    --checkpoint names them, renders the study set, runs it and writes compound_study.{json,md,png}."""
    import sys

    import torch

    from facebehavior.compound.fewshot import FinetuneSettings
    from facebehavior.config import load_config
    from facebehavior.synthface import generate_preset
    from facebehavior.training.trainer import train

    args = parse_args(argv)
    if args.replot:
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
    results["command"] = "python benchmarks/compound_study.py " + " ".join(argv if argv is not None else sys.argv[1:])
    results["total_seconds"] = round(time.time() - t0, 1)
    written = write_study(results, args.out)
    print(written["markdown"].read_text())
    print(f"wrote {', '.join(str(p) for p in written.values())}")
    return 0
