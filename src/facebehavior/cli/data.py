"""`facebehavior data ...`: the data commands (import, prepare, pack).

Each sub-command lives in its own module named ``data_<name>.py`` that defines
``register_data(subparsers)``; this module only builds the group.
"""

from __future__ import annotations

import importlib
import pkgutil

import facebehavior.cli as cli_pkg

ORDER = 10


def register(subparsers) -> None:
    parser = subparsers.add_parser("data", help="import databases, prepare face crops, pack shards",
                                   description="Turn native databases into manifests, aligned crops and shards.")
    group = parser.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    for info in sorted(pkgutil.iter_modules(cli_pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("data_"):
            module = importlib.import_module(f"facebehavior.cli.{info.name}")
            module.register_data(group)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
