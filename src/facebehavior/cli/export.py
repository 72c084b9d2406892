"""`facebehavior export`: a checkpoint as an ONNX model (dynamic batch, one output per task)."""

from __future__ import annotations

ORDER = 35


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="export a checkpoint to ONNX",
        description="Input `image`: uint8 (B, S, S, 3), aligned RGB face crops (S and the alignment template are in "
                    "the file's metadata, 'preprocessing'); the graph makes them gray and normalises them itself. "
                    "Outputs named after the tasks (e.g. expr, au, va), already activated (softmax / sigmoid / "
                    "clamped). The checkpoint's tasks, trained heads, AU thresholds and preprocessing travel in the "
                    "file's metadata, so `analyze --checkpoint model.onnx` works.")
    p.add_argument("checkpoint", nargs="?", help="checkpoint folder (e.g. runs/NAME/checkpoints/best) or a shipped "
                                                 "model's name (default: the shipped FER+ expression model)")
    p.add_argument("--format", choices=("onnx",), default="onnx")
    p.add_argument("--out", default="model.onnx", help="output file (default model.onnx)")
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
