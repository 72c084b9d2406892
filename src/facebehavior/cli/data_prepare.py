"""`facebehavior data prepare`: detect faces, align 112×112 crops, write a manifest of the crops."""

from __future__ import annotations


def register_data(subparsers) -> None:
    p = subparsers.add_parser(
        "prepare", help="detect faces + 5 landmarks, align and cache crops, write a crops manifest",
        description="Detect faces and five landmarks, align each with a similarity transform onto the "
                    "ArcFace template, cache the crops under OUT/crops and write OUT/manifest.csv (same rows "
                    "and labels; aligned=true; box, landmarks in source-image pixels; det_score). Resumable: "
                    "rerun the same command after an interruption.")
    p.add_argument("--manifest", required=True, help="input manifest (CSV or Parquet)")
    p.add_argument("--out", required=True, help="output folder (crops, manifest, prepare_report.json)")
    p.add_argument("--size", type=int, default=112, help="crop side in pixels (default 112, as in the paper)")
    p.add_argument("--detector", default="mtcnn",
                   help="face detector: mtcnn (default, offline), yunet or scrfd (need --model-path), "
                        "haar (OpenCV < 5)")
    p.add_argument("--model-path", help="local weights: the .onnx file for yunet/scrfd, a cascade .xml for haar, "
                                        "a folder with pnet/rnet/onet.onnx for mtcnn")
    p.add_argument("--detector-opt", action="append", default=[], metavar="KEY=VALUE",
                   help="extra detector option, e.g. min_face_size=40 or thresholds=0.6,0.6,0.6 (repeatable)")
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes (default 1)")
    p.add_argument("--no-face", choices=("skip", "center"), default="skip",
                   help="when no face is found: skip the row (default) or treat the whole image as the face "
                        "box (for databases of pre-cropped faces such as FER+)")
    p.add_argument("--format", choices=("png", "jpg"), default="png", help="crop file format (default png)")
    p.add_argument("--retry-failed", action="store_true", help="on resume, retry rows that failed before")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from facebehavior.cli.common import parse_detector_options
    from facebehavior.data.manifest import read_manifest
    from facebehavior.data.prepare import PrepareOptions, format_summary, prepare_manifest
    from facebehavior.labels import affect_tasks

    manifest = read_manifest(args.manifest, affect_tasks())
    options = PrepareOptions(size=args.size, detector=args.detector,
                             detector_options=parse_detector_options(args.detector_opt, args.model_path),
                             workers=args.workers, no_face=args.no_face, image_format=args.format,
                             retry_failed=args.retry_failed, progress=not args.no_progress)
    report = prepare_manifest(manifest, args.out, options)
    print(format_summary(report))
    return 0 if report["ok"] or not report["rows"] else 1
