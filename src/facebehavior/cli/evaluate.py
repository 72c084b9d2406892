"""`facebehavior evaluate`: a checkpoint on manifests, each database with its own protocol."""

from __future__ import annotations

ORDER = 25


def register(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="evaluate a checkpoint per database and task",
                              description="Writes metrics.json and report.md (a table per database and task) "
                                          "plus figures into --out.")
    p.add_argument("--checkpoint", required=True, help="checkpoint folder (e.g. runs/NAME/checkpoints/best)")
    p.add_argument("--manifest", "-m", action="append", help="manifest(s); default: the config's test manifests")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--out", help="output folder (default: <run>/eval)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from facebehavior.evaluation.run import evaluate_run
    from facebehavior.errors import FaceBehaviorError
    from facebehavior.training.distributed import resolve_device

    device = str(resolve_device(args.device))
    report = evaluate_run(args.checkpoint, manifests=args.manifest, split=args.split, out_dir=args.out,
                          device=device, batch_size=args.batch_size, plots=not args.no_plots)
    if report is None:
        raise FaceBehaviorError(f"no rows with split {args.split!r} in the given manifests")
    print(open(report).read())
    print(f"wrote {report}")
    return 0
