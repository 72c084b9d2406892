"""`facebehavior export`: a checkpoint as an ONNX model (dynamic batch, one output per task)."""

from __future__ import annotations

ORDER = 35


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="export a checkpoint to ONNX",
        description="Input `image`: float (B, 3, S, S) in [-1, 1]; outputs named after the tasks (expr, au, va), "
                    "already activated (softmax / sigmoid / clamped). The checkpoint's tasks, trained heads and "
                    "AU thresholds travel in the file's metadata, so `analyze --checkpoint model.onnx` works.")
    p.add_argument("checkpoint", help="checkpoint folder (e.g. runs/NAME/checkpoints/best)")
    p.add_argument("--format", choices=("onnx",), default="onnx")
    p.add_argument("--out", required=True, help="output file, e.g. model.onnx")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    p.add_argument("--no-check", action="store_true", help="skip comparing ONNX Runtime with PyTorch")
    p.set_defaults(func=run)


def run(args) -> int:
    from facebehavior.errors import FaceBehaviorError
    from facebehavior.inference.onnx_export import export_onnx

    summary = export_onnx(args.checkpoint, args.out, args.opset, check=not args.no_check)
    print(f"wrote {summary['path']} ({summary['bytes'] / 1e6:.1f} MB; outputs {', '.join(summary['tasks'])})")
    if "max_abs_diff" in summary:
        diffs = summary["max_abs_diff"]
        print("ONNX Runtime vs PyTorch, largest difference: "
              + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items()))
        if max(diffs.values()) > 1e-4:
            raise FaceBehaviorError(f"the exported model disagrees with PyTorch by more than 1e-4: {diffs}")
    return 0
