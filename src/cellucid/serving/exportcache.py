"""The cache of exports made by ``serve_anndata`` / ``show_anndata``: one folder per key.

``<cache root>/exports/<key>/`` holds one export; the key is a SHA-256 over what the data
is (a file's path, size and modification time; an in-memory AnnData's names, shapes and
sampled values) and the export settings, so the same data with the same settings opens
the finished export again instead of exporting twice.

The cache has a size limit (:func:`export_cache_limit`, 20 GB unless
``$CELLUCID_EXPORT_CACHE_MAX_GB`` says otherwise). Each time data is opened, the least
recently opened exports are removed until the others fit, never the one being opened and
never one another process is writing.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from cellucid.engine.lock import export_lock
from cellucid.errors import ExportLockedError
from cellucid.serving.webcache import cache_folder, folder_bytes, remove_folder
from cellucid.sinks.folder.state import read_record, sample_rows

KEY_LENGTH = 24
#: the name of a Cellucid-ready store inside its cache entry (``serving/storecache.py``)
STORE_NAME = "data.zarr"
#: the export cache's size limit when ``$CELLUCID_EXPORT_CACHE_MAX_GB`` is not set
DEFAULT_MAX_GB = 20.0


def get_export_cache_dir() -> Path:
    """The folder that holds the cached exports.

    ``$CELLUCID_EXPORT_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/cellucid/exports``
    (default ``~/.cache/cellucid/exports``), next to the viewer cache's default place.

    Returns
    -------
    Path
        The cache folder (it may not exist yet).
    """
    return cache_folder("CELLUCID_EXPORT_CACHE_DIR", "exports")


def _file_identity(path: Path) -> list[Any]:
    """A file's or a store's path, sizes and modification times (no content is read)."""
    path = path.resolve()
    if path.is_file():
        stat = path.stat()
        return [str(path), stat.st_size, stat.st_mtime_ns]
    # a Zarr store: every file's relative name, size and time (metadata only, no chunk reads)
    entries = sorted(
        (str(p.relative_to(path)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in path.rglob("*")
        if p.is_file()
    )
    return [str(path), entries]


def _values_digest(digest: Any, x: Any) -> None:
    rows = sample_rows(x.shape[0])
    for i in rows:
        row = x[int(i) : int(i) + 1]
        dense = row.toarray() if hasattr(row, "toarray") else np.asarray(row)
        digest.update(np.ascontiguousarray(dense, dtype=np.float64).tobytes())


def _anndata_digest(adata: Any) -> str:
    """A digest of an in-memory AnnData: names, tables, shapes and sampled values."""
    if getattr(adata, "isbacked", False) and adata.filename is not None:
        return json.dumps(_file_identity(Path(adata.filename)))
    digest = hashlib.sha256(f"{adata.shape}".encode())
    digest.update("\0".join(map(str, adata.obs_names)).encode())
    digest.update("\0".join(map(str, adata.var_names)).encode())
    for frame in (adata.obs, adata.var):
        digest.update(str(list(zip(frame.columns, map(str, frame.dtypes), strict=True))).encode())
        digest.update(frame.iloc[sample_rows(len(frame))].astype(str).to_csv().encode())
    _values_digest(digest, adata.X)
    for group in (adata.obsm, adata.obsp, adata.layers):
        for name in sorted(group.keys()):
            value = group[name]
            digest.update(f"{name}|{getattr(value, 'shape', None)}".encode())
            if hasattr(value, "shape") and len(value.shape) == 2:
                _values_digest(digest, value)
    return digest.hexdigest()


#: options that change what is printed, not what is written
_NOT_SETTINGS = frozenset({"quiet", "progress", "force"})


def _plain(value: Any) -> Any:
    """``value`` in one spelling: tuples as lists, paths as text, numpy scalars as Python,
    empty containers as None (``[]``, ``()``, ``{}`` and None all mean "nothing given")."""
    if isinstance(value, Mapping):
        plain = {str(k): _plain(v) for k, v in value.items()}
        return dict(sorted(plain.items())) or None
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value] or None
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _front_door_defaults() -> dict[str, Any]:
    import inspect

    from cellucid.anndata_input import prepare_anndata
    from cellucid.options import OPTIONS

    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(prepare_anndata).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
    defaults.update({option.name: option.our_default for option in OPTIONS})
    return defaults


def canonical_settings(options: Mapping[str, Any]) -> dict[str, Any]:
    """The export options as the cache key sees them: the same settings, however spelled.

    Options equal to the front doors' defaults are dropped (``cellucid serve`` names every
    option, ``serve_anndata()`` only the ones given), and values are put in one spelling
    (:func:`_plain`), so the CLI and Python open one cache entry for the same settings.

    Parameters
    ----------
    options
        Keywords of :func:`cellucid.prepare_anndata`.

    Returns
    -------
    dict
        JSON-serialisable settings, sorted by name.
    """
    defaults = _front_door_defaults()
    settings = {}
    for name, value in sorted(options.items()):
        plain = _plain(value)
        if name in _NOT_SETTINGS or plain == _plain(defaults.get(name)):
            continue
        settings[name] = plain
    return settings


def cache_key(data: Any, settings: dict[str, Any]) -> str:
    """The cache folder name of ``data`` exported with ``settings``.

    Parameters
    ----------
    data
        A path to a ``.h5ad`` file or Zarr store, or an AnnData (in memory or backed).
    settings
        The export options, JSON-serialisable.

    Returns
    -------
    str
        Hexadecimal key.
    """
    if isinstance(data, str | Path):
        what = json.dumps(_file_identity(Path(data)))
    else:
        what = _anndata_digest(data)
    document = json.dumps({"data": what, "settings": settings}, sort_keys=True, default=str)
    return hashlib.sha256(document.encode()).hexdigest()[:KEY_LENGTH]


def holds_store(entry: Path) -> bool:
    """Whether the cache entry ``entry`` holds a finished Cellucid-ready store (the writer
    renames a store into place only once it is complete)."""
    store = entry / STORE_NAME
    return (store / ".zattrs").is_file() or (store / "zarr.json").is_file()


def is_complete(folder: Path) -> bool:
    """Whether ``folder`` holds a finished export (its record says complete) or a finished
    Cellucid-ready store (``serving/storecache.py``)."""
    if holds_store(folder):
        return True
    try:
        record = read_record(folder)
    except (OSError, ValueError, KeyError):
        return False
    return record is not None and record.complete


def cached_exports() -> list[tuple[Path, bool, int]]:
    """Every cached export: (folder, complete, bytes), sorted by folder name."""
    root = get_export_cache_dir()
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        size = folder_bytes(folder)
        found.append((folder, is_complete(folder), size))
    return found


def clear_export_cache() -> int:
    """Delete every cached export.

    Returns
    -------
    int
        Bytes freed.
    """
    return remove_folder(get_export_cache_dir())


def export_cache_limit() -> int | None:
    """The export cache's size limit in bytes, or None for no limit.

    ``$CELLUCID_EXPORT_CACHE_MAX_GB`` (decimal gigabytes; 0 or ``inf`` for no limit), else
    :data:`DEFAULT_MAX_GB`.

    Raises
    ------
    ValueError
        If the variable is not a non-negative number.
    """
    text = os.environ.get("CELLUCID_EXPORT_CACHE_MAX_GB", "").strip()
    try:
        gigabytes = float(text) if text else DEFAULT_MAX_GB
    except ValueError:
        gigabytes = -1.0
    if not gigabytes >= 0:  # also NaN
        raise ValueError(
            f"CELLUCID_EXPORT_CACHE_MAX_GB={text!r} is not a size in GB; set it to a number "
            "such as 50, or 0 for no limit."
        )
    return None if gigabytes == 0 or math.isinf(gigabytes) else int(gigabytes * 1e9)


def mark_used(folder: Path) -> None:
    """Record that ``folder``'s export was opened now (its time orders the pruning)."""
    if folder.is_dir():
        now = time.time()
        os.utime(folder, (now, now))


def prune_export_cache(keep: Path, limit: int | None = None) -> list[Path]:
    """Remove the least recently opened exports until the cache fits its limit.

    Parameters
    ----------
    keep
        The export being opened: never removed, and its bytes count.
    limit
        Bytes; default :func:`export_cache_limit`. None keeps everything.

    Returns
    -------
    list of Path
        The folders removed, oldest first. An export another process is writing is skipped.
    """
    limit = export_cache_limit() if limit is None else limit
    root = get_export_cache_dir()
    if limit is None or not root.is_dir():
        return []
    keep = keep.resolve()
    others = [p for p in root.iterdir() if p.is_dir() and p.resolve() != keep]
    sizes = {p: folder_bytes(p) for p in others}
    total = sum(sizes.values()) + (folder_bytes(keep) if keep.is_dir() else 0)
    removed = []
    for folder in sorted(others, key=lambda p: (p.stat().st_mtime, p.name)):
        if total <= limit:
            break
        try:
            with export_lock(folder):
                remove_folder(folder)
        except ExportLockedError:
            continue  # being written right now
        total -= sizes[folder]
        removed.append(folder)
    return removed
