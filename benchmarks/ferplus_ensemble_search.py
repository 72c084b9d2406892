"""Which finished FER+ recipe runs to ship as one ensemble, chosen on FER+ *valid* only.

Each run's best checkpoint predicts valid once (no mirroring, as shipped); every subset of the
runs is then scored as a logit-averaging ensemble (facebehavior.studies.ferplus_ensemble), ranked
by 8-class majority accuracy, fewer members first on a tie. Test is never read here.

    python benchmarks/ferplus_ensemble_search.py --run A=runs/fer_s1_e30 --run B=runs/fer_s1_e30_ema_erase ...

A name may also point at a checkpoint folder, e.g. a member of the shipped ensemble taken out by
scripts/split_shipped_model.py (when its run folder is gone).

Prints the ranking and writes benchmarks/results/ferplus_ensemble_search.json. The winner is then
shipped with scripts/ship_ferplus_model.py and scored on test once by benchmarks/ferplus_shipped.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine, write_result  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    from facebehavior.studies.ferplus import prepare_data
    from facebehavior.studies.ferplus_ensemble import run_checkpoint, score_subsets
    from facebehavior.studies.ferplus_report import PROB_FLOOR, ferplus_predictions

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", action="append", default=[], metavar="NAME=RUN_DIR", required=True,
                    help="a short name and a finished `facebehavior recipe ferplus` output folder or a checkpoint "
                         "folder, e.g. a member of the shipped model (scripts/split_shipped_model.py) (repeatable)")
    ap.add_argument("--max-members", type=int, default=None, help="largest ensemble considered (default: all)")
    ap.add_argument("--data", default="../shared/data/ferplus")
    ap.add_argument("--out", default=str(RESULTS / "ferplus_ensemble_search.json"))
    args = ap.parse_args()
    runs = dict(spec.split("=", 1) for spec in args.run)
    log_probs, hard = {}, None
    with tempfile.TemporaryDirectory() as work:
        data = prepare_data(args.data, Path(work) / "data", say=lambda *_: None)
        for name, run in runs.items():
            best, _ = run_checkpoint(run)
            preds, labels, *_ = ferplus_predictions(best, data.full, split="val", flip_average=False)
            log_probs[name] = np.log(np.clip(preds["ferplus8"], PROB_FLOOR, 1.0))
            hard = labels["ferplus8"]
            print(f"{name}: predicted {len(hard)} valid images with {best}")
    ranked = score_subsets(log_probs, hard, args.max_members)
    print(f"{'members':50} {'correct':>8} {'accuracy':>9}")
    for r in ranked:
        print(f"{'+'.join(r['members']):50} {r['correct']:8d} {100 * r['accuracy']:8.2f}%")
    write_result(args.out, {"command": "python benchmarks/ferplus_ensemble_search.py " + " ".join(sys.argv[1:]),
                            "split": "val", "metric": "ferplus8 majority accuracy, no mirroring", "runs": runs,
                            "ranking": ranked, "machine": machine()})


if __name__ == "__main__":
    main()
