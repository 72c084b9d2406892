"""Command-line interface: thin command modules over the library.

Each module here that defines ``register(subparsers)`` adds one subcommand; `main` discovers them,
so adding a command is adding a file. A command's ``run(args) -> int`` does the work.
"""
