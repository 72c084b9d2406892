"""`facebehavior train`: train a network from a config (single process or under torchrun)."""

from __future__ import annotations

from facebehavior.cli.common import add_config_args, load_cli_config

ORDER = 20


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train a multi-task network from a config",
        description="Train from a YAML config. Scale out with `torchrun --nproc_per_node N -m facebehavior "
                    "train ...` (DDP). Checkpoints go to <out_dir>/checkpoints/{last,best}.")
    add_config_args(p)
    p.add_argument("--out", help="run folder (default: runs/<name>)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: config's train.device)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/checkpoints/last")
    p.add_argument("--no-test", action="store_true", help="skip the test-split evaluation after training")
    p.set_defaults(func=run)


def run(args) -> int:
    from facebehavior.evaluation.run import evaluate_run
    from facebehavior.training.trainer import train

    cfg = load_cli_config(args)
    result = train(cfg, resume=args.resume)
    import os

    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    print(f"trained in {result.seconds:.0f} s; best checkpoint: {result.best_checkpoint} "
          f"(selection score {result.best_score if result.best_score is not None else 'n/a'})")
    if not args.no_test:
        report = evaluate_run(result.best_checkpoint, cfg, split="test", out_dir=result.run_dir / "eval")
        if report is not None:
            print(f"test report: {report}")
    return 0
