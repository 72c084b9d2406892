"""What each ingredient of the FER+ recipe is worth, on FER+ *valid* only (test stays untouched
for the model finally shipped): one row per finished recipe run, each differing from the row
before by the ingredients named in its label.

For every run: its command, epochs, its best validation 8-class accuracy (the model selection
score, from the run's log) and that best checkpoint re-scored on valid with and without
mirrored-crop averaging (test-time flip), 8 and 7 classes.

    python benchmarks/ferplus_ingredients.py --run "stride-1 stem, 30 epochs=runs/fer_s1_e30" \\
        --run "+ EMA, random erasing=runs/fer_s1_e30_ema_erase" --data ../shared/data/ferplus

Prints a table and writes benchmarks/results/ferplus_ingredients.json. The first row is the
previous CPU recipe as committed in benchmarks/results/ferplus_cpu.json (its last-epoch valid
accuracy; its checkpoint is not kept).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine, write_result  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def run_row(label: str, run: Path, data_full: Path, work: Path) -> dict:
    results = json.loads((run / "results.json").read_text())
    info = results["run"]
    row = {"label": label, "run": str(run), "command": info["command"], "epochs": info["epochs_done"],
           "best_epoch": info["best_epoch"], "selection_valid_acc8": info["best_val_ferplus8_accuracy"],
           "wall_minutes": info["wall_seconds_total"] / 60, "teachers": info.get("teachers")}
    return _scored(row, Path(info["checkpoint"]), data_full, work, label)


def ensemble_row(label: str, runs: list[Path], data_full: Path, work: Path) -> dict:
    """The runs' best checkpoints as one ensemble (logits averaged), as scripts/ship_ferplus_model.py ships it."""
    from dataclasses import replace

    from facebehavior.models.checkpoint import read_meta
    from facebehavior.models.pretrained import ensemble_checkpoint

    best = [Path(json.loads((r / "results.json").read_text())["run"]["checkpoint"]) for r in runs]
    prep = replace(read_meta(best[0]).input_record(), crop="fer2013")
    merged = ensemble_checkpoint(best, work / f"ensemble_{len(best)}", prep.to_dict())
    row = {"label": label, "runs": [str(r) for r in runs], "epochs": None, "selection_valid_acc8": None}
    return _scored(row, merged, data_full, work, label)


def _scored(row: dict, checkpoint: Path, data_full: Path, work: Path, label: str) -> dict:
    from facebehavior.studies.ferplus_report import evaluate_ferplus

    best = checkpoint
    for flip in (False, True):
        r = evaluate_ferplus(best, data_full, work / f"{label}_{flip}", split="val", flip_average=flip)
        key = "flip" if flip else "plain"
        row[f"valid_acc8_{key}"] = r["protocols"]["ferplus8"]["accuracy"]
        row[f"valid_acc7_{key}"] = r["protocols"]["expr7"]["accuracy"]
        row[f"valid_mean_recall8_{key}"] = r["protocols"]["ferplus8"]["mean_diag"]
    return row


def main() -> None:
    from facebehavior.studies.ferplus import prepare_data

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", action="append", default=[], metavar="LABEL=RUN_DIR",
                    help="a finished `facebehavior recipe ferplus` output folder and its row label (repeatable)")
    ap.add_argument("--ensemble", action="append", default=[], metavar="LABEL=RUN_DIR,RUN_DIR",
                    help="an ensemble of finished runs' best checkpoints (repeatable)")
    ap.add_argument("--data", default="../shared/data/ferplus")
    ap.add_argument("--out", default=str(RESULTS / "ferplus_ingredients.json"))
    args = ap.parse_args()
    baseline = json.loads((RESULTS / "ferplus_cpu.json").read_text())
    rows = [{"label": "previous CPU recipe (small, stride-2 stem, 10 epochs)", "command": baseline["command"],
             "epochs": len(baseline["validation_ferplus8_accuracy_by_epoch"]),
             "selection_valid_acc8": baseline["validation_ferplus8_accuracy_by_epoch"][-1]}]
    with tempfile.TemporaryDirectory() as work:
        data = prepare_data(args.data, Path(work) / "data", say=lambda *_: None)
        for spec in args.run:
            label, _, run = spec.rpartition("=")
            rows.append(run_row(label, Path(run), data.full, Path(work)))
        for spec in args.ensemble:
            label, _, runs = spec.rpartition("=")
            rows.append(ensemble_row(label, [Path(r) for r in runs.split(",")], data.full, Path(work)))
    pct = (lambda v: "    –" if v is None else f"{100 * v:5.1f}")
    print(f"{'run':58} {'ep':>3} {'sel8':>6} {'val8':>6} {'+flip':>6} {'val7':>6} {'+flip':>6}")
    for r in rows:
        epochs = "  –" if r["epochs"] is None else f"{r['epochs']:3d}"
        print(f"{r['label'][:58]:58} {epochs} {pct(r['selection_valid_acc8'])} "
              f"{pct(r.get('valid_acc8_plain'))} {pct(r.get('valid_acc8_flip'))} "
              f"{pct(r.get('valid_acc7_plain'))} {pct(r.get('valid_acc7_flip'))}")
    write_result(args.out, {"command": "python benchmarks/ferplus_ingredients.py " + " ".join(
        f"'{a}'" if " " in a else a for a in sys.argv[1:]), "rows": rows, "machine": machine()})


if __name__ == "__main__":
    main()
