"""`facebehavior analyze`: faces in images and videos → one table row per face per image/frame."""

from __future__ import annotations

ORDER = 30
DEFAULT_DETECT_EVERY = 5  # the same as facebehavior.inference.analyzer's (not imported here: --help stays fast)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "analyze", help="what a network predicts for every face in images and videos (expressions; AUs and "
                        "valence/arousal when it has those heads)",
        description="Writes one row per face per image or video frame (columns: docs/analyze.md), "
                    "<out>.errors.csv listing inputs that could not be used, and <out>.meta.json. Without "
                    "--checkpoint the shipped real-face model is used (7 expressions, trained on FER+; "
                    "docs/models.md); the columns are those of the heads the model has.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="image or video files (mp4/avi/mov/mkv/...), directories (searched recursively) or "
                        "glob patterns (quote them, e.g. 'frames/**/*.jpg')")
    p.add_argument("--checkpoint", help="checkpoint folder, a .onnx file from `facebehavior export`, or a shipped "
                                        "model's name (default: the shipped FER+ expression model)")
    p.add_argument("--out", default="results.csv", help="results table: .csv, .parquet or .jsonl (default results.csv)")
    g = p.add_argument_group("network")
    g.add_argument("--backend", choices=("auto", "torch", "onnxruntime"), default="auto",
                   help="auto (default): onnxruntime on the CPU, torch on --device cuda; onnxruntime exports a "
                        "checkpoint folder once into $FACEBEHAVIOR_CACHE (default ~/.cache/facebehavior)")
    g.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:1, auto (default cpu)")
    g.add_argument("--batch-size", type=int, default=64, help="faces per network call (default 64)")
    g.add_argument("--threads", type=int, help="CPU threads for the network (default: the library's)")
    g = p.add_argument_group("faces")
    g.add_argument("--aligned", action="store_true", help="inputs are already aligned face crops: no detection")
    g.add_argument("--detector", default="mtcnn", help="face detector (default mtcnn; see docs/faces.md)")
    g.add_argument("--detector-opt", action="append", default=[], metavar="KEY=VALUE",
                   help="detector option, e.g. min_face_size=40 (repeatable)")
    g.add_argument("--model-path", help="detector model file/folder (yunet, scrfd)")
    g.add_argument("--detect-size", type=int, metavar="PX",
                   help="detect on a copy whose shorter side is at most PX pixels (faster on large frames)")
    g.add_argument("--min-face", default="auto", metavar="PX|auto",
                   help="smallest face to find (box width in pixels); detection runs on a copy shrunk so such a "
                        "face is the detector's minimum. auto (default): images at full sensitivity, videos 1/12 of "
                        "the frame's shorter side, checked every 2 s at full sensitivity and lowered if smaller "
                        "faces show up. 0: the detector's own minimum (20 px for mtcnn; exact, slow)")
    g = p.add_argument_group("videos")
    g.add_argument("--stride", type=int, default=1, help="analyse every N-th frame (default 1)")
    g.add_argument("--median", type=int, default=0, metavar="W",
                   help="median filter over each face track, W analysed frames wide (odd; default off)")
    g.add_argument("--detect-every", type=int, default=DEFAULT_DETECT_EVERY, metavar="K",
                   help="run the detector on every K-th analysed frame and follow the landmarks by optical flow in "
                        f"between, detecting at once when a face is lost (default {DEFAULT_DETECT_EVERY}; "
                        "1: detect on every frame)")
    g = p.add_argument_group("output")
    g.add_argument("--compound", choices=("rafdb", "emotionet"),
                   help="add zero-shot compound expression scores for these classes")
    g.add_argument("--annotate", metavar="DIR", help="write copies of the inputs with the results drawn on faces")
    g.add_argument("--resume", action="store_true", help="skip inputs already in --out (same settings only)")
    g.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    g.add_argument("--workers", type=int, default=1, help="processes sharing the inputs (default 1)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    import sys

    from facebehavior.cli.common import parse_detector_options
    from facebehavior.inference.run import AnalyzeConfig, analyze_files

    cfg = AnalyzeConfig(
        inputs=args.inputs, checkpoint=args.checkpoint, out=args.out, backend=args.backend, device=args.device,
        batch_size=args.batch_size, detector=args.detector,
        detector_options=parse_detector_options(args.detector_opt, args.model_path), detect_size=args.detect_size,
        min_face=args.min_face,
        aligned=args.aligned, stride=args.stride, median=args.median, detect_every=args.detect_every,
        compound=args.compound, annotate=args.annotate, resume=args.resume, overwrite=args.overwrite,
        workers=args.workers, threads=args.threads, progress=not args.no_progress)
    summary = analyze_files(cfg, say=lambda msg: print(msg, file=sys.stderr))
    if not summary:  # a torchrun rank other than 0
        return 0
    print(format_summary(summary))
    return 1 if summary["analysed"] == 0 and summary["failed"] else 0


def format_summary(s: dict) -> str:
    from facebehavior.inference.output import errors_path
    from pathlib import Path

    lines = [f"{s['analysed']} input(s) analysed ({s['frames']} images/frames, {s['faces']} faces, "
             f"{s['rows']} rows) -> {s['out']}"]
    if s.get("no_face"):
        lines.append(f"{s['no_face']} image(s)/frame(s) without a face (rows with status no_face)")
    if s.get("bad_frames"):
        lines.append(f"{s['bad_frames']} corrupt video frame(s) skipped (listed per video in the errors file)")
    if s["skipped_done"]:
        lines.append(f"{s['skipped_done']} input(s) skipped: already in the output (--resume)")
    if s["errors"]:
        lines.append(f"{s['failed']} input(s) failed, {s['partial']} partly read; see {errors_path(Path(s['out']))}:")
        for e in s["errors"][:10]:
            lines.append(f"  {e['reason']}: {e['detail']}")
        if len(s["errors"]) > 10:
            lines.append(f"  ... and {len(s['errors']) - 10} more")
    if s["annotated"]:
        lines.append(f"{len(s['annotated'])} annotated file(s) written")
    for note in s.get("notes", [])[:10]:
        lines.append(f"note: {note}")
    if len(s.get("notes", [])) > 10:
        lines.append(f"  ... and {len(s['notes']) - 10} more notes")
    return "\n".join(lines)
