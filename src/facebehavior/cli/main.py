"""`facebehavior` entry point: discovers command modules and turns user errors into messages."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import facebehavior.cli as cli_pkg
from facebehavior import __version__
from facebehavior.errors import FaceBehaviorError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facebehavior",
        description="Holistic facial behaviour analysis: train, evaluate and run FaceBehaviorNet.",
    )
    parser.add_argument("--version", action="version", version=f"facebehavior {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = []
    for info in pkgutil.iter_modules(cli_pkg.__path__):
        if info.name.startswith("_") or info.name in ("main", "common"):
            continue
        module = importlib.import_module(f"facebehavior.cli.{info.name}")
        if hasattr(module, "register"):
            modules.append(module)
    for module in sorted(modules, key=lambda m: (getattr(m, "ORDER", 50), m.__name__)):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except FaceBehaviorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
