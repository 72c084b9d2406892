"""Take the shipped ensemble apart: each member as a checkpoint folder of its own.

    python scripts/split_shipped_model.py --out runs/shipped_members [--name ferplus-expr]

Writes OUT/member_<i>/ (model.safetensors + meta.json, with the command that trained the member
from models.json). Use it to score the members alone or to combine them with new runs
(benchmarks/ferplus_ensemble_search.py, scripts/ship_ferplus_model.py) when their run folders are
gone. Run it before re-shipping: shipping replaces the package's weights.
"""

from __future__ import annotations

import argparse


def main() -> None:
    from facebehavior.models.pretrained import DEFAULT, shipped_checkpoint, shipped_models, split_ensemble

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="folder for the members (created)")
    ap.add_argument("--name", default=DEFAULT, help=f"shipped model (default {DEFAULT})")
    args = ap.parse_args()
    commands = shipped_models()[args.name].get("trained_by") if args.name in shipped_models() else None
    for folder in split_ensemble(shipped_checkpoint(args.name), args.out, commands):
        print(f"wrote {folder}")


if __name__ == "__main__":
    main()
