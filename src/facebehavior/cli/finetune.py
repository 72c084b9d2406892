"""`facebehavior finetune`: few-shot fine-tuning of a trained network on compound expressions."""

from __future__ import annotations

from facebehavior.cli.compound import CLASS_HELP, SPACE_HELP, default_out

ORDER = 31


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "finetune", help="few-shot fine-tuning of a trained network on compound expressions",
        description="Replaces the output layer by one for the compound classes, fine-tunes on k training images "
                    "per class (one model per seed) and evaluates on the test split. Writes finetune.json and, "
                    "per seed, a checkpoint (loadable like any other) and a report into --out.")
    p.add_argument("--checkpoint", required=True, help="trained checkpoint folder")
    p.add_argument("--task", default="compound", choices=["compound"], help="the task to learn (only compound)")
    p.add_argument("--manifest", "-m", required=True, action="append",
                   help="manifest(s) with train and test rows of the compound task")
    p.add_argument("--classes", default="rafdb", metavar="SET|LIST", help=CLASS_HELP)
    p.add_argument("--label-space", choices=["rafdb", "emotionet", "synthface"], help=SPACE_HELP)
    p.add_argument("--freeze", default="none", choices=["none", "backbone", "all_but_last_stage"],
                   help="what stays fixed: nothing, the whole backbone (head only), or all but the fbn "
                        "backbone's last stage")
    p.add_argument("--shots", default="5", help="training images per class (an integer) or 'all'")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds; each draws its own k-shot sample")
    p.add_argument("--epochs", type=int, default=30, help="passes over the k-shot set (at least --min-steps steps)")
    p.add_argument("--min-steps", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--optimizer", default="adamw", choices=["sgd", "adam", "adamw"])
    p.add_argument("--scratch", action="store_true",
                   help="baseline: the same network with random weights instead of the checkpoint's")
    p.add_argument("--out", help="output folder (default: <run>/finetune_<k>shot)")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=run)


def parse_shots(text: str) -> int | None:
    from facebehavior.errors import ConfigError

    if text.strip().lower() == "all":
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise ConfigError(f"--shots {text!r}: give a positive integer or 'all'")
    return int(text)


def parse_seeds(text: str) -> list[int]:
    from facebehavior.errors import ConfigError

    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"--seeds {text!r}: give comma-separated integers, e.g. 0,1,2") from None
    if not seeds:
        raise ConfigError("--seeds: give at least one seed")
    return seeds


def run(args) -> int:
    from facebehavior.compound.fewshot import FinetuneSettings, run_finetune
    from facebehavior.devices import resolve_device

    shots = parse_shots(args.shots)
    settings = FinetuneSettings(freeze=args.freeze, epochs=args.epochs, min_steps=args.min_steps,
                                batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
                                device=str(resolve_device(args.device)))
    out = args.out or default_out(args.checkpoint, f"finetune_{shots or 'all'}shot")
    result = run_finetune(args.checkpoint, args.manifest, args.classes, args.label_space, shots,
                          parse_seeds(args.seeds), settings, out, scratch=args.scratch, say=print)
    s = result["summary"]
    print(f"{result['method']}, {shots or 'all'}-shot, {len(result['runs'])} seed(s): mean diag "
          f"{s['mean_diag']['mean']:.3f} ± {s['mean_diag']['std']:.3f}, macro F1 {s['macro_f1']['mean']:.3f}")
    print(f"wrote {out}/finetune.json")
    return 0
