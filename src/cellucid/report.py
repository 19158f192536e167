"""Console messages of an export: counts, the words of the caller (CLI or Python), lines.

Messages name options the way the caller spells them: ``--force`` on the command line,
``force=True`` in Python. The CLI switches the wording with :func:`cli_terms` for the
duration of a command.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_ON_CLI: ContextVar[bool] = ContextVar("cellucid_on_cli", default=False)
# Python spellings of our options as they appear in messages, and the CLI's words
_PYTHON_TO_CLI = (
    (re.compile(r"\bforce=True\b"), "--force"),
    (re.compile(r"\bnew out_dir\b"), "new OUTDIR"),
    (re.compile(r"\bembedding_keys\b"), "--embedding"),
    (re.compile(r"\bembeddings=\{(\d): ?'(\w+)'\}"), r"--embedding-\1d \2"),
    (re.compile(r"\bembeddings=\{d: \.\.\.\}"), "--embedding-<d>d"),
    (re.compile(r"\bvector_keys=\{'(\w+)': ?'(\w+)'\}"), r"--vector-field \1=\2"),
)


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` with thousands separators and the noun in the right number.

    Examples
    --------
    >>> count(1, "gene"), count(3000, "gene"), count(2, "gene file")
    ('1 gene', '3,000 genes', '2 gene files')
    """
    word = noun if n == 1 else (plural or noun + "s")
    return f"{n:,} {word}"


def size(n_bytes: int) -> str:
    """A byte count for people: ``812 B``, ``41.2 MB``."""
    value = float(n_bytes)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover - the loop always returns


def on_cli() -> bool:
    """Whether the running code was called from the ``cellucid`` command line."""
    return _ON_CLI.get()


@contextmanager
def cli_terms() -> Iterator[None]:
    """Word messages for the command line while the block runs."""
    token = _ON_CLI.set(True)
    try:
        yield
    finally:
        _ON_CLI.reset(token)


def in_callers_terms(message: str) -> str:
    """``message`` with Python option spellings turned into CLI flags when on the CLI."""
    if not on_cli():
        return message
    for pattern, replacement in _PYTHON_TO_CLI:
        message = pattern.sub(replacement, message)
    return message


def force_hint() -> str:
    """How the caller asks to overwrite: ``--force`` or ``force=True``."""
    return "--force" if on_cli() else "force=True"


def interrupted_line(out_dir: object) -> str:
    """The one line printed when an export is stopped with Ctrl+C."""
    again = "run the same command again" if on_cli() else "call the same export again"
    return (
        f"Interrupted: {out_dir} holds no complete-looking export (only finished files are "
        f"kept); {again} to resume where it stopped."
    )


def default_progress(quiet: bool) -> bool:
    """Progress bars on a terminal or in a notebook, unless quiet (logs stay clean)."""
    return not quiet and (sys.stderr.isatty() or "ipykernel" in sys.modules)


class Reporter:
    """Prints progress lines unless quiet; counts skipped files per section."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.skipped: Counter[str] = Counter()

    def say(self, message: str) -> None:
        if not self.quiet:
            print(in_callers_terms(message), file=sys.stdout, flush=True)

    def skip(self, section: str, count: int = 1) -> None:
        self.skipped[section] += count

    def flush_skips(self, section: str, where: str) -> None:
        """One line per section for files kept from an earlier run of the same export."""
        n = self.skipped.pop(section, 0)
        if n:
            self.say(
                f"⚠ Skipping {count(n, f'{section} file')}: {where} already exists "
                f"(use {force_hint()} to overwrite)"
            )
