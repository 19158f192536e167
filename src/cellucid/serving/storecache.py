"""Cellucid-ready stores made for today's web app by ``serve_anndata`` / ``show_anndata``.

An AnnData that is not Cellucid-ready (in memory, backed, or a path) is written once, by
the streaming store writer, into ``<export cache>/<key>/data.zarr``; the key covers what
the data is and the writer's settings (:func:`cellucid.serving.exportcache.cache_key`), so
opening the same data again serves the finished store without writing anything. The
writer renames a store into place only once it is complete, so a store that exists is a
finished one; the entry's lock keeps two processes from writing one key at once.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cellucid.engine.lock import export_lock
from cellucid.serving.exportcache import (
    STORE_NAME,
    cache_key,
    canonical_settings,
    get_export_cache_dir,
    holds_store,
    mark_used,
    prune_export_cache,
)

#: what the key's settings say was written, so a store never answers for an export folder
KIND = "cellucid-ready zarr"


@dataclass(frozen=True)
class CachedStore:
    """A finished store in the export cache."""

    path: Path  #: the ``.zarr`` folder
    reused: bool  #: True when it was there already (nothing was written)


def store_entry(data: Any, writer_options: Mapping[str, Any]) -> Path:
    """The cache entry (folder) of ``data`` written with ``writer_options``."""
    settings = {"output": KIND, **canonical_settings(writer_options)}
    return get_export_cache_dir() / cache_key(data, settings)


def cached_store(
    data: Any,
    writer_options: Mapping[str, Any],
    *,
    force: bool = False,
    before_writing: Callable[[], None] | None = None,
) -> CachedStore:
    """The finished store of ``data``: reused when the cache holds it, else written now.

    Parameters
    ----------
    data
        An AnnData (in memory or backed) or the path of a ``.h5ad`` file or Zarr store.
    writer_options
        Keywords of :func:`cellucid.prepare_anndata` for a store (``latent_key``,
        ``dataset_name``, ``dataset_id``, ``centroid_min_points``, ...).
    force
        Write the store again even when the cache holds it.
    before_writing
        Called once before the store is written (not when it is reused): a caller's
        "writing ..." line, said only when true.

    Returns
    -------
    CachedStore
        Where the store is and whether it was reused.

    Raises
    ------
    ExportLockedError
        When another process is writing the same entry right now.
    """
    from cellucid.anndata_input import prepare_anndata

    entry = store_entry(data, writer_options)
    store = entry / STORE_NAME
    entry.mkdir(parents=True, exist_ok=True)
    with export_lock(entry):
        if force and store.exists():
            shutil.rmtree(store)
        reused = holds_store(entry)
        if not reused:
            if before_writing is not None:
                before_writing()
            prepare_anndata(
                data, store, format="zarr", quiet=True, progress=False, **writer_options
            )
    mark_used(entry)
    prune_export_cache(keep=entry)
    return CachedStore(store, reused)
