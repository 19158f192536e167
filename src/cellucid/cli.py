"""The ``cellucid`` command line: one subcommand per module in :mod:`cellucid.commands`.

Each module there defines ``add_parser(subparsers)``, which registers its subcommand and
sets ``func`` (a callable taking the parsed namespace and returning an exit code).

Output to a reader that went away (``cellucid prepare ... | head -3``) never stops a
command: from the first write that finds the pipe closed, that stream goes to the null
device, and the command finishes its work with its usual exit code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import signal
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn, TextIO

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
        if info.name.startswith("_"):
            continue  # a helper of the commands, not a command
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.add_parser(subparsers)
    return parser


class _PipeSafe:
    """A text stream that survives its reader going away (a closed pipe).

    On the first ``BrokenPipeError`` the stream's file descriptor is pointed at the null
    device (Python's documented way: the interpreter's last flush at exit then succeeds
    too) and the text is dropped; everything else is the wrapped stream's.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._to_null_device()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._to_null_device()

    def _to_null_device(self) -> None:
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self._stream.fileno())
            os.close(null)
        except (OSError, ValueError, AttributeError):  # no file descriptor (a test's buffer)
            return
        try:
            self._stream.flush()  # what the failed write left in the buffer, to the null device
        except (BrokenPipeError, ValueError):  # pragma: no cover - the descriptor is /dev/null
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def _closed_pipes_ignored() -> Iterator[None]:
    """Within the block, stdout and stderr survive a reader that went away."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _PipeSafe(sys.stdout), _PipeSafe(sys.stderr)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


@contextmanager
def _warnings_as_lines(command: str) -> Iterator[None]:
    """Within the block, our own warnings print as ``cellucid COMMAND: warning: ...`` lines
    (Python's default shows a file name, a line number and the class, which say nothing to
    someone at a shell); warnings of other packages keep their form."""
    shown = warnings.showwarning

    def show(message: Any, category: type, filename: str, lineno: int, *rest: Any) -> None:
        if category.__module__.split(".")[0] == "cellucid":
            print(f"cellucid {command}: warning: {message}", file=sys.stderr, flush=True)
        else:
            shown(message, category, filename, lineno, *rest)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    if threading.current_thread() is threading.main_thread():
        # A parent that ignores SIGINT (a background job of a script, some test runners)
        # passes that on to us; every command promises that Ctrl+C stops it.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    with _closed_pipes_ignored():
        parser = build_parser()
        args = parser.parse_args(argv)
        if getattr(args, "func", None) is None:
            parser.print_help()
            return 2
        with cli_terms(), _warnings_as_lines(args.command):
            try:
                return int(args.func(args) or 0)
            except KeyboardInterrupt:
                # the command already said what was left behind; 130 is the shell's Ctrl+C code
                return 130


if __name__ == "__main__":
    sys.exit(main())
