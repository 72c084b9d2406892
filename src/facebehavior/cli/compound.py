"""`facebehavior compound`: zero-shot compound expressions (eq. 8) from a trained checkpoint."""

from __future__ import annotations

ORDER = 30
CLASS_HELP = ("rafdb (RAF-DB's 11, its label order), emotionet (6 basic + 11 compound, the importer's order, less "
              "any category the data never use: the challenge set's 16), "
              "du2014 / synthface (all 15 Du et al. compound rows) or a comma-separated list of table rows, "
              "e.g. happily_surprised,sadly_angry")
SPACE_HELP = ("how the manifest stores the true class: rafdb (column 'compound', RAF-DB order), emotionet "
              "(column 'emotionet_category'), synthface (column 'compound', Du table order); default: the one of "
              "a named --classes set")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "compound", help="zero-shot compound expression recognition (eq. 8) with a trained network",
        description="Scores every compound class by the mean probability of its AUs (Du et al.), the "
                    "probabilities of its two component emotions and, for happily surprised/disgusted, positive "
                    "valence; predicts the arg-max and evaluates it. Writes compound.json, compound.md and "
                    "compound_confusion.png into --out.")
    p.add_argument("--checkpoint", required=True, help="checkpoint folder (e.g. runs/NAME/checkpoints/best)")
    p.add_argument("--manifest", "-m", required=True, action="append", help="compound-labelled manifest(s)")
    p.add_argument("--classes", default="rafdb", metavar="SET|LIST", help=CLASS_HELP)
    p.add_argument("--label-space", choices=["rafdb", "emotionet", "synthface"], help=SPACE_HELP)
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--au-weighting", default="binary", choices=["binary", "weighted"],
                   help="binary: unweighted mean over the class's AUs (the paper); weighted: observational AUs "
                        "count with their annotator fraction")
    p.add_argument("--out", help="output folder (default: <run>/compound)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--explain", type=int, default=20, metavar="N",
                   help="store the evidence (top AUs, emotions, valence) of the first N rows in the JSON")
    p.set_defaults(func=run)


def default_out(checkpoint: str, name: str) -> str:
    from pathlib import Path

    ckpt = Path(checkpoint)
    run_dir = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent
    return str(run_dir / name)


def run(args) -> int:
    from facebehavior.compound.evaluate import evaluate_zero_shot
    from facebehavior.devices import resolve_device

    out = args.out or default_out(args.checkpoint, "compound")
    payload = evaluate_zero_shot(args.checkpoint, args.manifest, args.classes, args.label_space, args.split, out,
                                 args.au_weighting, str(resolve_device(args.device)), args.batch_size, args.explain)
    print(open(payload["written"]["markdown"], encoding="utf-8").read())
    print(f"wrote {out}")
    return 0
