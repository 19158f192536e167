"""Console messages of an export: the settings summary and one line per section."""

from __future__ import annotations

import sys
from collections import Counter


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
            print(message, file=sys.stdout, flush=True)

    def skip(self, section: str, count: int = 1) -> None:
        self.skipped[section] += count

    def flush_skips(self, section: str, where: str) -> None:
        """One line per section for files kept from an earlier run of the same export."""
        count = self.skipped.pop(section, 0)
        if count:
            noun = "file" if count == 1 else "files"
            self.say(
                f"⚠ Skipping {count} {section} {noun}: {where} already exists "
                "(use force=True to overwrite)"
            )
