"""Consolidated metadata for a ``.zarr`` folder that lacks it, built in memory.

A browser cannot list a folder: it learns every group and array of a Zarr store from one
document, ``.zmetadata`` (format 2) or the root ``zarr.json``'s ``consolidated_metadata``
(format 3). Our writer always writes it; a store from elsewhere may not have it, and the
server then answers that key with a document built from the store's own metadata files
(nothing is written into the store).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

V2_DOCUMENTS = frozenset({".zgroup", ".zattrs", ".zarray"})
V3_DOCUMENT = "zarr.json"


def _is_array(folder: str, names: list[str]) -> bool:
    if ".zarray" in names:
        return True
    if V3_DOCUMENT not in names:
        return False
    try:
        document = json.loads(Path(folder, V3_DOCUMENT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and document.get("node_type") == "array"


def _documents(root: Path, names: frozenset[str]) -> Iterator[tuple[str, Any]]:
    """``(store key, parsed document)`` of every metadata file below ``root``.

    An array's folder is not walked (it holds only chunks, possibly millions), and a file
    that resolves outside the store is skipped (the server never reads outside a store).
    """
    for folder, subfolders, files in os.walk(root):
        subfolders.sort()
        if _is_array(folder, files):
            subfolders.clear()
        for name in sorted(files):
            path = Path(folder, name)
            if name not in names or not path.resolve().is_relative_to(root):
                continue
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise ValueError(f"{path}: Zarr metadata that is not JSON ({error})") from None
            yield path.relative_to(root).as_posix(), document


def missing_consolidated(root: Path, zarr_format: int | None) -> tuple[str, bytes] | None:
    """The consolidated document a ``.zarr`` folder lacks, as (store key, bytes), or None
    when it has one.

    Raises
    ------
    ValueError
        A metadata file is not JSON (naming it).
    """
    if zarr_format == 3:
        top = json.loads((root / V3_DOCUMENT).read_text(encoding="utf-8"))
        if not isinstance(top, dict) or isinstance(top.get("consolidated_metadata"), dict):
            return None
        nodes = {
            key.rsplit("/", 1)[0]: document
            for key, document in _documents(root, frozenset({V3_DOCUMENT}))
            if "/" in key
        }
        inline = {"kind": "inline", "must_understand": False, "metadata": nodes}
        return V3_DOCUMENT, json.dumps({**top, "consolidated_metadata": inline}).encode()
    if (root / ".zmetadata").is_file():
        return None
    metadata = dict(_documents(root, V2_DOCUMENTS))
    document = {"zarr_consolidated_format": 1, "metadata": metadata}
    return ".zmetadata", json.dumps(document).encode()
