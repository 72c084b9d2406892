"""Put trained FER+ recipe runs into the package as the default model (`ferplus-expr`).

    python scripts/ship_ferplus_model.py --run runs/fer_a --run runs/fer_b --flip-average

One run ships its best checkpoint; several ship as one ensemble (their logits averaged,
models/pretrained.ensemble_checkpoint). The 8-class FER+ head is kept for the recipe's protocol but
hidden from `analyze` (one expression output per row). The choices themselves (which runs, mirrored
averaging) are made on FER+ valid: benchmarks/ferplus_ingredients.py. Afterwards re-evaluate the
shipped weights with benchmarks/ferplus_shipped.py.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path


def main() -> None:
    from facebehavior.models.pretrained import DEFAULT, ensemble_checkpoint, ship_checkpoint
    from facebehavior.models.checkpoint import read_meta
    from facebehavior.studies.ferplus_ensemble import run_checkpoint

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", action="append", required=True,
                    help="a finished `recipe ferplus` output folder, or a checkpoint folder such as a member of the "
                         "shipped model (scripts/split_shipped_model.py)")
    ap.add_argument("--flip-average", action="store_true", help="average each crop with its mirror image")
    args = ap.parse_args()
    best, commands = zip(*[run_checkpoint(r) for r in args.run])
    best = list(best)
    # FER+ crops are FER2013's framing whatever the run recorded (runs made before `data.crop` existed
    # say arcface); gray and 48 px come from the run itself
    prep = replace(read_meta(best[0]).input_record(), crop="fer2013", flip_average=args.flip_average)
    with tempfile.TemporaryDirectory() as work:
        source = ensemble_checkpoint(best, Path(work) / "ensemble", prep.to_dict()) if len(best) > 1 else best[0]
        summary = {
            "summary": "7 basic expressions from one face (FER+ train; docs/models.md)",
            "trained_by": list(commands),
            "members": len(best),
            "shipped_by": "python scripts/ship_ferplus_model.py " + " ".join(
                [f"--run {r}" for r in args.run] + (["--flip-average"] if args.flip_average else [])),
            "results": "benchmarks/results/ferplus_shipped.json",
        }
        folder = ship_checkpoint(source, DEFAULT, summary, preprocessing=prep.to_dict(), hidden_tasks=["ferplus8"],
                                 training_databases=["ferplus"])
    print(f"shipped {DEFAULT} into {folder}")


if __name__ == "__main__":
    main()
