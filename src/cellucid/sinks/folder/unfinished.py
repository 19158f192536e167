"""Telling an unfinished export (stopped before its last file) from a folder with none."""

from __future__ import annotations

from pathlib import Path

from cellucid.sinks.folder.format.naming import IDENTITY_NAME


def unfinished_exports(folder: str | Path) -> list[Path]:
    """Exports in ``folder`` or its subfolders that were started but never finished."""
    # imported here: the server and the validator should not load the engine to start
    from cellucid.sinks.folder.state import RECORD_NAME

    root = Path(folder)
    candidates = [root, *(p for p in root.iterdir() if p.is_dir())] if root.is_dir() else []
    return [
        p
        for p in candidates
        if (p / RECORD_NAME).is_file() and not (p / IDENTITY_NAME).is_file()
    ]


def unfinished_message(folder: str | Path) -> str | None:
    """A message naming the unfinished exports in ``folder``, or None when there are none."""
    found = unfinished_exports(folder)
    if not found:
        return None
    where = str(found[0]) + (f" (and {len(found) - 1} more)" if len(found) > 1 else "")
    return (
        f"{where} holds an unfinished export (stopped before it was complete); run the "
        "same export again (same command, or the same prepare call) to resume it."
    )
