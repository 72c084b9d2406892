"""`facebehavior evaluate`: a model on labelled photos (through detection and alignment), or a
checkpoint on manifests, each database with its own protocol."""

from __future__ import annotations

ORDER = 25


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate", help="score a model on your labelled photos, or a checkpoint on manifests per database and task",
        description="With PHOTOS (a folder with one sub-folder per expression, e.g. photos/happy/1.jpg, or a CSV "
                    "with an image path column and an expression column, optionally au12... and valence/arousal): "
                    "each photo's main face is detected and aligned as `facebehavior analyze` does and scored; "
                    "writes metrics.json, report.md, predictions.csv and confusion.png into --out (default "
                    "photo_eval), listing photos with no face or an unknown label. Without PHOTOS: the checkpoint "
                    "on manifests, each database with its own protocol (metrics.json, report.md, figures).")
    p.add_argument("photos", nargs="?", help="labelled photos: a class-per-folder tree or a CSV")
    p.add_argument("--checkpoint", help="checkpoint folder, .onnx file or shipped model name (default: the shipped "
                                        "FER+ expression model)")
    p.add_argument("--manifest", "-m", action="append", help="manifest(s); default: the config's test manifests")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--out", help="output folder (default: photo_eval for photos, <run>/eval for manifests)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--detector", default="mtcnn", help="face detector for photos (default mtcnn)")
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from facebehavior.errors import FaceBehaviorError
    from facebehavior.devices import resolve_device

    device = str(resolve_device(args.device))
    if args.photos:
        if args.manifest:
            raise FaceBehaviorError("give either PHOTOS or --manifest, not both")
        from facebehavior.evaluation.photos import evaluate_photos

        out = args.out or "photo_eval"
        metrics = evaluate_photos(args.photos, args.checkpoint, out, device, args.detector, args.batch_size or 64)
        pct = (lambda v: "n/a" if v is None else f"{100 * v:.1f}%")
        print(f"{metrics['scored']} of {metrics['photos']} photos scored: accuracy {pct(metrics['accuracy'])}, "
              f"mean recall {pct(metrics['mean_recall'])}, macro F1 {pct(metrics['macro_f1'])}")
        if metrics["problems"]:
            print(f"{len(metrics['problems'])} not scored ({len(metrics['no_face'])} without a face); "
                  f"listed in {out}/report.md")
        print(f"wrote {out}/report.md, metrics.json, predictions.csv" + (", confusion.png" if metrics.get("confusion")
                                                                          else ""))
        return 0
    from facebehavior.evaluation.run import evaluate_run
    from facebehavior.models.pretrained import resolve_checkpoint

    report = evaluate_run(resolve_checkpoint(args.checkpoint), manifests=args.manifest, split=args.split,
                          out_dir=args.out, device=device, batch_size=args.batch_size, plots=not args.no_plots)
    if report is None:
        raise FaceBehaviorError(f"no rows with split {args.split!r} in the given manifests")
    print(open(report).read())
    print(f"wrote {report}")
    return 0
