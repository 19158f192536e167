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

from cellucid.progress import write_line

_ON_CLI: ContextVar[bool] = ContextVar("cellucid_on_cli", default=False)
# Python spellings of our options as they appear in messages, and the CLI's words
_PYTHON_TO_CLI = (
    (re.compile(r"\bforce=True\b"), "--force"),
    (re.compile(r"\bnew out_dir\b"), "new OUT"),
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
    """Prints progress lines unless quiet; counts what a rerun kept from the earlier run.

    A rerun of the same export keeps the complete files of the earlier run (and the gene
    blocks an interrupted run encoded): the sections say only what they write, and
    :meth:`reuse_line` says once, at the end, what was kept.
    """

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.kept: Counter[str] = Counter()
        #: gene blocks reused from an interrupted run, and how many the genes need
        self.reused_blocks = (0, 0)

    def say(self, message: str) -> None:
        """Print ``message`` on a line of its own (beside an open progress bar)."""
        if not self.quiet:
            write_line(in_callers_terms(message))

    def keep(self, section: str, n: int = 1) -> None:
        """Count ``n`` files of ``section`` kept from the earlier run."""
        self.kept[section] += n

    @property
    def n_kept(self) -> int:
        """Files kept from the earlier run, in every section."""
        return sum(self.kept.values())

    def reuse_line(self) -> str | None:
        """The one line saying what this run kept of the earlier one (None: nothing kept).

        Examples
        --------
        >>> r = Reporter(quiet=True)
        >>> r.keep("points", 2)
        >>> r.keep("gene", 30)
        >>> print(r.reuse_line())
        ↻ Kept 32 files of the earlier run of this export (same inputs and settings): 2 \
points and 30 gene files. Use force=True to write everything again.
        """
        n_blocks, of_blocks = self.reused_blocks
        if not self.kept and not n_blocks:
            return None
        what = [count(self.n_kept, "file")] if self.kept else []
        if n_blocks:
            what.append(f"{n_blocks:,} of {count(of_blocks, 'encoded gene block')}")
        order = sorted(self.kept, key=lambda s: _SECTION_ORDER.get(s, len(_SECTION_ORDER)))
        sections = [f"{self.kept[section]:,} {section}" for section in order]
        listed = f": {_and(sections)} files" if sections else ""
        return (
            f"↻ Kept {_and(what)} of the earlier run of this export (same inputs and "
            f"settings){listed}. Use force=True to write everything again."
        )


#: the sections in the order an export writes them (the main stages'), for :meth:`reuse_line`
_SECTION_ORDER = {s: i for i, s in enumerate(("points", "vector field", "obs", "connectivity"))}


def _and(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return " and ".join([", ".join(items[:-1]), items[-1]]) if len(items) > 1 else items[0]
