"""Subcommands of the ``cellucid`` command line, one module each (see :mod:`cellucid.cli`)."""

from __future__ import annotations

import sys

from cellucid.report import in_callers_terms

#: errors an export reports as one line (anything else is a bug and keeps its traceback)
EXPORT_ERRORS: tuple[type[BaseException], ...] = (
    FileNotFoundError,
    KeyError,
    ValueError,
    TypeError,
    NotImplementedError,
    OSError,
)


def print_error(command: str, error: BaseException) -> int:
    """Print ``cellucid COMMAND: error: ...`` in CLI terms on stderr; returns exit code 1."""
    message = error.args[0] if isinstance(error, KeyError) and error.args else error
    print(f"cellucid {command}: error: {in_callers_terms(str(message))}", file=sys.stderr)
    return 1
