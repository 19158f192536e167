"""The containers a Cellucid-ready AnnData store is written in, one module each.

- :mod:`.zarr_store`: a ``.zarr`` folder (Zarr format 2 or 3);
- :mod:`.zip_archive`: a ``.zarr.zip``, the same folder packed into one stored ZIP;
- :mod:`.h5ad_file`: an ``.h5ad`` (HDF5).

All follow :class:`~..backend.Container`: declarations first, then values.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from ..backend import Container
from .h5ad_file import H5adFile
from .zarr_store import ZarrStore
from .zip_archive import ZarrZipArchive

ContainerName = Literal["zarr", "zarr.zip", "h5ad"]

#: Each container's constructor, from (path, zarr format, encoding threads).
_OPENERS: dict[str, Callable[[Path, int, int], Container]] = {
    "zarr": ZarrStore,
    "zarr.zip": ZarrZipArchive,
    "h5ad": lambda path, zarr_format, workers: H5adFile(path, workers),
}

#: The container names :func:`open_container` accepts (``prepare(format=...)``).
CONTAINERS = tuple(_OPENERS)


def open_container(
    path: Path, container: ContainerName, *, zarr_format: int = 2, workers: int = 1
) -> Container:
    """Start writing a store of kind ``container`` at ``path`` (which must not hold one yet).

    Parameters
    ----------
    path
        Where the store goes: a folder (``"zarr"``) or a file.
    container
        ``"zarr"``, ``"zarr.zip"`` or ``"h5ad"``.
    zarr_format
        2 or 3, for the Zarr containers (ignored for ``"h5ad"``).
    workers
        Threads encoding chunks.
    """
    opener = _OPENERS.get(container)
    if opener is None:
        raise ValueError(f"container must be one of {CONTAINERS}, got {container!r}")
    return opener(path, zarr_format, workers)
