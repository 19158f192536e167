"""A Zarr store's consolidated metadata must not list elements that are gone.

zarr opens a store with consolidated metadata (``.zmetadata`` in Zarr v2, the root
``zarr.json``'s ``consolidated_metadata`` in v3) from that listing alone. An element
deleted from the folder afterwards (``rm -r atlas.zarr/X``) is then still "there": its
chunks are missing, and zarr reads missing chunks as the fill value, so every gene would be
exported as zeros without a word. Every listed element must have its own metadata file.
"""

from __future__ import annotations

import json
from pathlib import Path

from cellucid.errors import InputFileError

_V2_LISTING = ".zmetadata"
_V3_META = "zarr.json"
_V2_META = (".zarray", ".zgroup")


def _listed(path: Path) -> tuple[str, list[tuple[str, Path]]]:
    """The listing file's name and each listed element with the file it needs."""
    v2 = path / _V2_LISTING
    if v2.is_file():
        metadata = json.loads(v2.read_text(encoding="utf-8")).get("metadata", {})
        elements = [
            (key.rsplit("/", 1)[0], path / key)
            for key in metadata
            if "/" in key and key.rsplit("/", 1)[1] in _V2_META
        ]
        return _V2_LISTING, elements
    v3 = path / _V3_META
    if v3.is_file():
        root = json.loads(v3.read_text(encoding="utf-8"))
        consolidated = root.get("consolidated_metadata") or {}
        names = consolidated.get("metadata", {}) if isinstance(consolidated, dict) else {}
        return _V3_META, [(name, path / name / _V3_META) for name in names]
    return "", []


def _topmost(names: list[str]) -> list[str]:
    """``names`` without those inside another one of them (``X/data`` under ``X``)."""
    gone = set(names)
    return sorted(n for n in gone if not any(n.startswith(f"{o}/") for o in gone if o != n))


def refuse_stale_listing(path: Path) -> None:
    """Refuse the Zarr store at ``path`` when its consolidated metadata lists an element
    whose own files are gone.

    Raises
    ------
    InputFileError
        Naming the store, the missing elements and both fixes.
    """
    try:
        listing, elements = _listed(path)
    except (OSError, ValueError, AttributeError):
        return  # unreadable listing: zarr's own open says what is wrong with it
    gone = _topmost([name for name, needed in elements if not needed.is_file()])
    if not gone:
        return
    names = ", ".join(gone[:5]) + (f" and {len(gone) - 5} more" if len(gone) > 5 else "")
    raise InputFileError(
        f"{path}: its consolidated metadata ({listing}) lists {names}, but "
        f"{'its files are' if len(gone) == 1 else 'their files are'} gone from the store "
        "(deleted after it was written), and zarr would read fill values (zeros) in their "
        "place. Write "
        "the store again (adata.write_zarr), or, if the removal was meant, update the "
        f"listing first: zarr.consolidate_metadata({str(path)!r})."
    )
