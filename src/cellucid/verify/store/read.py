"""Opening a Cellucid-ready AnnData store for reading, whatever holds it.

Three containers hold the same tree of groups and arrays: a ``.zarr`` folder (Zarr format 2
or 3), the same store packed into a ``.zarr.zip``, and an HDF5 ``.h5ad``. :func:`open_store`
gives one :class:`~.nodes.Store` for each (:mod:`.zarr_files`, :mod:`.h5ad_file`), whose
``nodes`` describe every group and array (attributes, dtype, shape, chunks and codec
configuration, in one vocabulary) and whose ``read`` returns an array's values or a slice.
"""

from __future__ import annotations

import os
from pathlib import Path

from .h5ad_file import H5adStore
from .nodes import (
    ZARR_DOCUMENTS,
    Codec,
    Node,
    Store,
    StoreError,
    describe_codecs,
    join,
    plain,
)
from .zarr_files import ZarrStore

__all__ = [
    "STORE_SUFFIXES",
    "ZARR_DOCUMENTS",
    "Codec",
    "H5adStore",
    "Node",
    "Store",
    "StoreError",
    "ZarrStore",
    "container_of",
    "describe_codecs",
    "join",
    "open_store",
    "plain",
]

#: The suffixes of the three containers, longest first so ``.zarr.zip`` wins over ``.zarr``.
STORE_SUFFIXES = (".zarr.zip", ".zarr", ".h5ad")


def container_of(path: Path) -> str | None:
    """``"zarr.zip"``, ``"zarr"`` or ``"h5ad"`` by the name, or a folder holding a Zarr root."""
    lowered = path.name.lower()
    if lowered.endswith(".zarr.zip"):
        return "zarr.zip"
    if lowered.endswith(".h5ad"):
        return "h5ad"
    if lowered.endswith(".zarr"):
        return "zarr"
    if path.is_dir() and ((path / ".zgroup").is_file() or (path / "zarr.json").is_file()):
        return "zarr"
    return None


def open_store(path: str | os.PathLike[str]) -> Store:
    """Open a ``.zarr`` folder, ``.zarr.zip`` or ``.h5ad`` for reading.

    Raises
    ------
    StoreError
        The path does not exist, is not one of the three containers, or cannot be read as
        one (the message is one line naming it).
    """
    target = Path(path)
    if not target.exists():
        raise StoreError(f"{target}: does not exist")
    kind = container_of(target)
    if kind is None:
        raise StoreError(f"{target}: not a .zarr folder, .zarr.zip or .h5ad")
    if kind == "h5ad":
        if not target.is_file():
            raise StoreError(f"{target}: an .h5ad must be a file")
        return H5adStore(target)
    if kind == "zarr.zip" and not target.is_file():
        raise StoreError(f"{target}: a .zarr.zip must be a file")
    if kind == "zarr" and not target.is_dir():
        raise StoreError(f"{target}: a .zarr store must be a folder")
    return ZarrStore(target, zipped=kind == "zarr.zip")
