"""The ``cellucid`` command line: one subcommand per module in :mod:`cellucid.commands`.

Each module there defines ``add_parser(subparsers)``, which registers its subcommand and
sets ``func`` (a callable taking the parsed namespace and returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import signal
import sys
import threading
from collections.abc import Sequence
from typing import NoReturn

from cellucid import __version__, commands
from cellucid.report import cli_terms


class _OneLineErrorParser(argparse.ArgumentParser):
    """Usage errors as one line on stderr (exit code 2), pointing at --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every registered subcommand."""
    parser = _OneLineErrorParser(
        prog="cellucid",
        description="Export single-cell atlases for the Cellucid web viewer, and serve them.",
    )
    parser.add_argument("--version", action="version", version=f"cellucid {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    if threading.current_thread() is threading.main_thread():
        # A parent that ignores SIGINT (a background job of a script, some test runners)
        # passes that on to us; every command promises that Ctrl+C stops it.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    with cli_terms():
        try:
            return int(args.func(args) or 0)
        except KeyboardInterrupt:
            # the command already said what was left behind; 130 is the shell's Ctrl+C code
            return 130


if __name__ == "__main__":
    sys.exit(main())
