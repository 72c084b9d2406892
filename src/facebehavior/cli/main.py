"""`facebehavior` entry point: discovers command modules and turns user errors into messages."""

from __future__ import annotations

import argparse
import errno
import importlib
import pkgutil
import sys

import facebehavior.cli as cli_pkg
from facebehavior import __version__
from facebehavior.errors import FaceBehaviorError, is_disk_full


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


# OSErrors that name a path the user can fix (a folder where a file was meant, no permission, a
# read-only disk): one error line, like FaceBehaviorError. Others are bugs worth their traceback.
_PATH_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ENOTDIR, errno.EEXIST}
SIGPIPE_EXIT = 141  # 128 + SIGPIPE: what a shell reports for a command whose reader went away


def main(argv: list[str] | None = None) -> int:
    try:
        try:
            code = _main(argv)
        except SystemExit:  # argparse's --help, --version and usage errors
            sys.stdout.flush()
            raise
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at interpreter exit
        return code
    except BrokenPipeError:
        # The reader of our output left (e.g. `facebehavior ... | head`): stop quietly, as Unix tools
        # do. Python would otherwise print a traceback, and again when it flushes stdout at exit.
        _silence_stdout()
        return SIGPIPE_EXIT


def _main(argv: list[str] | None) -> int:
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
    except BrokenPipeError:
        raise
    except OSError as exc:
        if is_disk_full(exc):
            where = f" while writing {exc.filename}" if exc.filename else ""
            print(f"error: no space left on the device{where}: what was written before is kept; free some space "
                  "and rerun the same command (with --resume for train and analyze)", file=sys.stderr)
            return 2
        if exc.filename is not None and exc.errno in _PATH_ERRNOS:  # a path the user gave, or its folder
            print(f"error: {exc.filename}: {exc.strerror}", file=sys.stderr)
            return 2
        raise
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a real file (e.g. captured by a test)
        pass


if __name__ == "__main__":
    sys.exit(main())
