"""Validating a Cellucid-ready AnnData store: ``.zarr`` (Zarr v2 or v3), ``.zarr.zip``, ``.h5ad``.

:func:`validate_store` reads a store back and checks it against the contract upstream
cellucid 0.9.5's ``prepare()`` writes to (see :mod:`.rules` for the parts): the elements and
their AnnData encodings, the orientation and integrity of ``X`` (streamed: memory stays
bounded whatever the store's size), the neighbour graph, the ``uns['cellucid']`` record, and
every array's chunks and codecs, plus the container's own rules (consolidated metadata, ZIP
entries, HDF5 file format).
"""

from __future__ import annotations

import os
from pathlib import Path

from .container import check_zip_archive
from .context import Context
from .read import StoreError, container_of, open_store

__all__ = ["validate_store", "is_store_path"]


def is_store_path(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a store: ``.zarr``, ``.zarr.zip`` or ``.h5ad`` (by its name,
    whether or not it exists), or a folder holding a Zarr root document."""
    return container_of(Path(path)) is not None


def validate_store(path: str | os.PathLike[str]) -> list[str]:
    """Check a Cellucid-ready AnnData store; one line per violation, empty when valid.

    Each line names the element (``obs/cell_type/codes``, ``X/indptr``, ``zip entry ...``),
    what is wrong and, in parentheses, what the contract expects. A path that cannot be
    opened as a store at all gives a single line saying why.

    Parameters
    ----------
    path
        A ``.zarr`` folder (Zarr format 2 or 3), a ``.zarr.zip`` file or an ``.h5ad`` file.

    Returns
    -------
    list of str
        The violations, in the order the rules found them.
    """
    from .rules import run_rules  # pandas and the rules: not to tell a store from a folder

    target = Path(path)
    lines: list[str] = []
    if container_of(target) == "zarr.zip" and target.is_file():
        lines, top_level = check_zip_archive(target)
        if not top_level:
            return lines
    try:
        store = open_store(target)
    except StoreError as error:
        return [*lines, str(error)]
    with store:
        ctx = Context(store)
        ctx.lines.extend(store.problems)
        run_rules(ctx)
    return [*lines, *ctx.lines]
