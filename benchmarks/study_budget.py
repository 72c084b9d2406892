"""Why the affect study's networks learn so little (issue 16, part 2): one controlled change at a time.

Each experiment is one training run of the affect demo's network and data (no coupling unless the
experiment says otherwise, seed 0) with a few config overrides on top of the demo's recipe
(`facebehavior.studies.affect.base_config`); it validates after every epoch (the learning curve, on
each database's validation split) and scores the best checkpoint on every test database with its
own metric. The result goes to benchmarks/results/study_budget/<name>.json (history, test scores,
wall time, load average, the overrides); `--table` prints the markdown table of every finished
experiment next to the ceiling (facebehavior.evaluation.ceiling).

Run (under `nice`, one at a time; a run folder is resumable):
  nice -n 15 .venv/bin/python benchmarks/study_budget.py NAME --set train.epochs=15 [--set ...]
  .venv/bin/python benchmarks/study_budget.py --table
Data: .cache/synthface/affect (`facebehavior synth --preset affect --out .cache/synthface/affect`).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "study_budget"
DATA = ROOT / ".cache" / "synthface" / "affect"

# The recipe every experiment starts from: the affect demo's before issue 16 (tiny fbn, lr 1e-2, batch
# 128 with label sets in proportion to their rows, 3 epochs); each experiment changes it with --set.
BASE = {"lr": 1e-2, "batch": 128, "stem_stride": 2, "widths": None}

# the columns the table shows (database, task, metric key, header)
SHOWN = [("synth_rafdb", "expr", "mean_diag", "RAF mean diag"),
         ("synth_affectnet", "expr", "accuracy", "AffectNet acc"),
         ("synth_affectnet", "va", "ccc/valence", "AffectNet CCC-V"),
         ("synth_affwild", "va", "ccc/valence", "AffWild CCC-V"),
         ("synth_affwild", "va", "ccc/arousal", "AffWild CCC-A"),
         ("synth_emotionet", "au", "f1", "EmotioNet F1"),
         ("synth_bp4d", "au", "f1", "BP4D F1")]


def _set(cfg: dict, key: str, value) -> None:
    node = cfg
    parts = key.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value


def _parse(value: str):
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def run(name: str, sets: list[str], coupling: dict | None, data_dir: Path, out: Path) -> dict:
    from facebehavior.synthface import read_preset
    from facebehavior.studies.affect import base_config
    from facebehavior.config import load_config
    from facebehavior.evaluation.report import load_results
    from facebehavior.evaluation.run import evaluate_run
    from facebehavior.training.trainer import train

    preset = read_preset(data_dir / "preset.json")
    cfg = base_config(preset, data_dir, 3, BASE)
    cfg.update(name=name, out_dir=str(out / name))
    cfg["coupling"] = [{"multiclass": "expr", "multilabel": "au", "relatedness": "du2014", **(coupling or {})}]
    cfg["train"]["seed"] = 0
    for s in sets:
        key, value = s.split("=", 1)
        _set(cfg, key, _parse(value))
    t0 = time.time()
    config = load_config(base=cfg)
    resume = (out / name / "checkpoints" / "last").exists()
    result = train(config, resume=resume, say=print)
    report = evaluate_run(result.best_checkpoint, config, split="test", out_dir=result.run_dir / "eval", plots=False)
    record = {"name": name, "sets": sets, "coupling": coupling or {}, "train_seconds": result.seconds,
              "seconds": time.time() - t0, "loadavg_end": os.getloadavg(), "history": result.history,
              "results": load_results(Path(report).with_name("metrics.json")),
              "command": "nice -n 15 .venv/bin/python benchmarks/study_budget.py " + name +
                         "".join(f" --set {shlex.quote(s)}" for s in sets) +
                         (f" --coupling '{json.dumps(coupling)}'" if coupling else "")}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=1, default=float))
    return record


def table(data_dir: Path) -> str:
    from facebehavior.synthface import read_preset
    from facebehavior.evaluation.ceiling import ceiling_scores
    from facebehavior.evaluation.report import lookup

    ceil = ceiling_scores(read_preset(data_dir / "preset.json"), data_dir)
    head = "| experiment | epochs | steps | train min | " + " | ".join(h for *_, h in SHOWN) + " |"
    lines = [head, "|" + "---|" * (4 + len(SHOWN))]
    for kind in ("chance", "ceiling"):
        lines.append(f"| *{kind}* | | | | " + " | ".join(
            f"{ceil[db][task][key][kind]:.3f}" for db, task, key, _ in SHOWN) + " |")
    for path in sorted(RESULTS.glob("*.json"), key=lambda p: p.stat().st_mtime):
        r = json.loads(path.read_text())
        if "results" not in r:  # stopped early: its learning curve only
            continue
        cells = []
        for db, task, key, _ in SHOWN:
            v = lookup(r["results"], db, task, key)
            cells.append("–" if v is None else f"{v:.3f}")
        steps = r["history"][-1]["step"] if r["history"] else 0
        lines.append(f"| {r['name']} | {len(r['history'])} | {steps} | {r['train_seconds'] / 60:.1f} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(out_png: Path) -> Path:
    """Validation learning curves of every experiment against training steps."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    keys = [("eval/synth_rafdb/expr/mean_diag", "synth_rafdb mean diagonal (val)"),
            ("eval/synth_affwild/va/ccc/valence", "synth_affwild CCC-V (val)"),
            ("eval/synth_affwild/va/ccc/arousal", "synth_affwild CCC-A (val)"),
            ("eval/synth_emotionet/au/f1", "synth_emotionet AU F1 at 0.5 (val)")]
    fig = Figure(figsize=(13, 8))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2).ravel()
    import matplotlib

    records = sorted((json.loads(p.read_text()) for p in RESULTS.glob("*.json")), key=lambda r: r["name"])
    colours = matplotlib.colormaps["tab20"]
    for i, r in enumerate(records):
        for ax, (key, title) in zip(axes, keys):
            pts = [(h["step"], h[key]) for h in r["history"] if key in h]
            if pts:
                ax.plot(*zip(*pts), marker="o", ms=2.5, lw=1.1, label=r["name"], color=colours(i % 20),
                        ls="--" if i >= 10 else "-")
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("training step", fontsize=8)
            ax.grid(alpha=0.3)
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    return out_png


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", nargs="?")
    ap.add_argument("--set", action="append", default=[], help="config override key=value (value as JSON)")
    ap.add_argument("--coupling", type=json.loads, help="coupling options as JSON (default none)")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "study_budget")
    ap.add_argument("--table", action="store_true")
    args = ap.parse_args(argv)
    if args.table:
        print(table(args.data))
        print(f"curves: {plot(RESULTS / 'curves.png')}")
        return 0
    if not args.name:
        ap.error("give an experiment name or --table")
    r = run(args.name, args.set, args.coupling, args.data, args.out)
    print(json.dumps({k: r[k] for k in ("name", "train_seconds")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
