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


def _option_value(text: str):
    parts = text.split(",")
    try:
        values = [int(v) if v.strip().lstrip("-").isdigit() else float(v) for v in parts]
    except ValueError:
        return text
    return values[0] if len(values) == 1 else tuple(values)


def parse_detector_options(items: list[str], model_path: str | None) -> dict:
    """`--detector-opt KEY=VALUE` items (numbers and comma lists parsed) plus `--model-path`; shared by
    `data prepare` and `analyze`."""
    from facebehavior.errors import ConfigError

    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--detector-opt {item!r}: use KEY=VALUE, e.g. min_face_size=40")
        options[key.strip()] = _option_value(value.strip())
    if model_path:
        options["model_path"] = model_path
    return options
