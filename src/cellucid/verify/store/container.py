"""What belongs to the container rather than to an element.

- Zarr: consolidated metadata (``.zmetadata`` in format 2, inline ``consolidated_metadata``
  in the root ``zarr.json`` in format 3) listing every metadata document, each equal to the
  document itself. A browser cannot list a folder: the consolidated metadata is how the web
  app learns the store in one request, so a stale entry misleads it. zarr-python gives each
  subgroup's consolidated entry its own (empty) ``consolidated_metadata`` block; that key of a
  group document is left out of the comparison.
- ``.zarr.zip``: every entry stored (not deflated, so one range request reads a chunk), the
  store at the top level (no folder prefix), the chunks first and the metadata documents
  after them, the root consolidated document last (a reader finds it at the end, next to
  the central directory).
- ``.h5ad``: HDF5 file format 1.10 (``libver`` v110: superblock version 3).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from .context import Context
from .read import ZARR_DOCUMENTS, ZarrStore

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def check_consolidated(ctx: Context) -> None:
    """The consolidated metadata lists every document, each equal to the document."""
    store = ctx.store
    if not isinstance(store, ZarrStore):
        return
    if store.zarr_format == 2:
        where, listed = ".zmetadata", _v2_listing(ctx, store)
        own = {key: doc for key, doc in store.documents.items() if key != ".zmetadata"}
    else:
        where, listed = "zarr.json", _v3_listing(ctx, store)
        own = {
            key.rpartition("/")[0]: doc
            for key, doc in store.documents.items()
            if key.rpartition("/")[2] == "zarr.json" and key != "zarr.json"
        }
    if listed is None:
        return
    for key in sorted(set(own) - set(listed)):
        ctx.add(
            key,
            f"missing from the consolidated metadata ({where})",
            "every metadata document listed",
        )
    for key in sorted(set(listed) - set(own)):
        ctx.add(
            key,
            f"listed in the consolidated metadata ({where}) but not in the store",
            "only the store's own documents",
        )
    for key in sorted(set(own) & set(listed)):
        difference = _first_difference(_comparable(own[key]), _comparable(listed[key]))
        if difference is not None:
            ctx.add(
                key,
                f"consolidated metadata differs from the document: {difference}",
                "the consolidated entry equal to the document",
            )


def _v2_listing(ctx: Context, store: ZarrStore) -> dict[str, Any] | None:
    document = store.documents.get(".zmetadata")
    if document is None:
        ctx.add(".zmetadata", "missing", "consolidated metadata (.zmetadata)")
        return None
    listed = document.get("metadata") if isinstance(document, dict) else None
    if not isinstance(listed, dict) or document.get("zarr_consolidated_format") != 1:
        ctx.add(".zmetadata", "malformed", "{zarr_consolidated_format: 1, metadata: {...}}")
        return None
    return listed


def _v3_listing(ctx: Context, store: ZarrStore) -> dict[str, Any] | None:
    block = store.documents.get("zarr.json", {}).get("consolidated_metadata")
    if block is None:
        ctx.add("zarr.json", "has no consolidated_metadata", "inline consolidated metadata")
        return None
    listed = block.get("metadata") if isinstance(block, dict) else None
    if (
        not isinstance(listed, dict)
        or block.get("kind") != "inline"
        or block.get("must_understand") is not False
    ):
        ctx.add(
            "zarr.json",
            "consolidated_metadata is malformed",
            "{kind: inline, must_understand: false, metadata: {...}}",
        )
        return None
    return listed


def _comparable(document: Any) -> Any:
    if isinstance(document, dict) and (
        "node_type" not in document or document["node_type"] == "group"
    ):
        return {key: value for key, value in document.items() if key != "consolidated_metadata"}
    return document


def _first_difference(own: Any, listed: Any) -> str | None:
    if own == listed:
        return None
    if isinstance(own, dict) and isinstance(listed, dict):
        for key in sorted(set(own) | set(listed)):
            if own.get(key) != listed.get(key):
                return (
                    f"{key!r} is {_short(own.get(key))} in the document, "
                    f"{_short(listed.get(key))} in the consolidated entry"
                )
    return f"{_short(own)} against {_short(listed)}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# =============================================================================
# .zarr.zip
# =============================================================================


def check_zip_archive(path: Path) -> tuple[list[str], bool]:
    """The archive's entries; the lines found, and whether the store sits at the top level."""
    lines: list[str] = []
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (OSError, zipfile.BadZipFile) as error:
        return [f"{path.name}: not a readable ZIP archive ({error})"], False
    names = [info.filename for info in infos]
    deflated = [info.filename for info in infos if info.compress_type != zipfile.ZIP_STORED]
    if deflated:
        more = f" and {len(deflated) - 1:,} more" if len(deflated) > 1 else ""
        lines.append(
            f"zip entry {deflated[0]}: compressed in the archive{more} "
            "(expected stored entries, ZIP_STORED: the chunks are compressed already)"
        )
    if len(set(names)) != len(names):
        lines.append(f"{path.name}: duplicate entry names (expected each entry once)")
    folders = [name for name in names if name.endswith("/")]
    if folders:
        lines.append(f"zip entry {folders[0]}: a folder entry (expected file entries only)")
    top = ".zgroup" in names or "zarr.json" in names
    if not top:
        prefixes = sorted(
            name.rpartition("/")[0]
            for name in names
            if name.rpartition("/")[2] in (".zgroup", "zarr.json")
        )
        where = f"under the folder {prefixes[0]}/" if prefixes else "without a root document"
        lines.append(
            f"{path.name}: the store sits {where} "
            "(expected the store at the top level of the archive, no folder prefix)"
        )
        return lines, False
    lines += _order_lines(
        [name for name in names if not name.endswith("/")],
        ".zmetadata" if ".zgroup" in names else "zarr.json",
    )
    return lines, True


def _order_lines(names: list[str], consolidated: str) -> list[str]:
    documents = [at for at, name in enumerate(names) if name.rpartition("/")[2] in ZARR_DOCUMENTS]
    chunks = [at for at, name in enumerate(names) if name.rpartition("/")[2] not in ZARR_DOCUMENTS]
    lines = []
    if documents and chunks and chunks[-1] > documents[0]:
        lines.append(
            f"zip entry {names[chunks[-1]]}: a chunk after the metadata document "
            f"{names[documents[0]]} (expected every chunk first, then the documents)"
        )
    if names and names[-1] != consolidated:
        lines.append(
            f"zip entry {names[-1]}: the last entry "
            f"(expected the consolidated metadata {consolidated} last)"
        )
    return lines


# =============================================================================
# .h5ad
# =============================================================================


def check_hdf5_file(ctx: Context) -> None:
    """The HDF5 superblock of format 1.10 (version 3), the signature at the start."""
    with open(ctx.store.path, "rb") as handle:
        head = handle.read(9)
    if head[:8] != _HDF5_SIGNATURE:
        ctx.add("HDF5 superblock", "not at the start of the file", "an .h5ad without a user block")
        return
    if head[8] != 3:
        ctx.add(
            "HDF5 superblock", f"version {head[8]}", "3: HDF5 file format 1.10 (libver bounds v110)"
        )
