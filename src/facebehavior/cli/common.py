"""Helpers shared by command modules (argument groups, config loading)."""

from __future__ import annotations


def add_config_args(parser, required: bool = True) -> None:
    parser.add_argument("--config", "-c", required=required, help="YAML experiment config (see configs/)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.lr=0.01 (repeatable)")


def load_cli_config(args):
    from facebehavior.config import load_config

    overrides = list(args.overrides)
    if getattr(args, "out", None):
        overrides.append(f"out_dir={args.out}")
    if getattr(args, "device", None):
        overrides.append(f"train.device={args.device}")
    return load_config(args.config, overrides)
