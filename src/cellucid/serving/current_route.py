"""An AnnData for today's Cellucid web app: a store server over a Cellucid-ready store.

A Cellucid-ready store (``.zarr``, ``.zarr.zip``, ``.h5ad`` with ``uns['cellucid']``) is
served as it is. Anything else (an AnnData in memory or backed, a plain ``.h5ad`` or Zarr
store) is first written by the streaming store writer into the export cache
(``serving/storecache.py``) and that store is served; the next time the same data is
opened with the same writer settings, the cached store is served without writing.

The launch choices (upstream 0.9.5's ``serve_anndata`` keywords) never change the store:
they are checked against it and published in ``/_cellucid/datasets``
(``serving/stores/launch.py``). ``latent_key`` and ``centroid_min_points`` also go to the
writer, so the outlier quantiles the app reads are computed for them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cellucid.anndata_store import STORE_KEYWORDS
from cellucid.serving.storecache import CachedStore, cached_store
from cellucid.serving.stores.discover import StoreNotReady, container_of, read_store
from cellucid.serving.stores.launch import LAUNCH_CHOICES, launch_defaults_for
from cellucid.serving.stores.server import StoreServer
from cellucid.serving.webapp import CurrentApp

#: launch choices the writer also takes (they shape the outlier quantiles it stores)
WRITTEN_CHOICES = ("latent_key", "centroid_min_points")
#: what the writer takes from a caller of serve_anndata (the launch choices aside)
WRITER_KEYWORDS = frozenset(STORE_KEYWORDS) - {
    "format",
    "force",
    "progress",
    "quiet",
    "obs_keys",
    "vector_field_default",
    "normalize_embeddings",
    "modality",
    "embedding_defaults",
}


def ready_store(data: Any) -> Path | None:
    """``data``'s path when it is a Cellucid-ready store to serve as it is, else None."""
    if not isinstance(data, str | os.PathLike):
        return None
    path = Path(data).expanduser()
    if container_of(path) is None or not path.exists():
        return None
    try:
        read_store(path)
    except StoreNotReady:
        return None
    return path


def default_name(data: Any) -> str:
    """A dataset name from where ``data`` comes from: the file's name, else ``AnnData``."""
    if isinstance(data, str | os.PathLike):
        name = Path(data).name
        for suffix in (".zarr.zip", ".zarr", ".h5ad"):
            name = name.removesuffix(suffix)
        return name or "AnnData"
    filename = getattr(data, "filename", None)
    return Path(filename).stem if filename else "AnnData"


def _named(data: Any, writer: Mapping[str, Any]) -> dict[str, Any]:
    """The writer's keywords with a dataset name: the caller's, the data's own
    ``uns['cellucid']`` one, else :func:`default_name` (never the cache's ``data.zarr``)."""
    from cellucid.anndata_store import peek

    named = dict(writer)
    if named.get("dataset_name") is None and "dataset_name" not in peek(data)[0]:
        named["dataset_name"] = default_name(data)
    return named


def split_options(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``serve_anndata``'s keywords for today's app: (launch choices, writer keywords).

    Raises
    ------
    TypeError
        Naming a keyword neither takes (an export folder's option: it needs the pinned
        viewer).
    """
    choices = {k: v for k, v in options.items() if k in LAUNCH_CHOICES}
    writer = {k: v for k, v in options.items() if k in WRITER_KEYWORDS}
    writer.update({k: choices[k] for k in WRITTEN_CHOICES if choices.get(k) is not None})
    for keyword in options:
        if keyword not in choices and keyword not in writer:
            raise TypeError(
                f"{keyword} is an export folder's option, and today's web app opens "
                f"Cellucid-ready stores: pass viewer='pinned' (--viewer pinned) to export a "
                f"folder for the pinned viewer, or drop {keyword}."
            )
    return choices, writer


def current_app_server(
    data: Any,
    port: int,
    host: str,
    *,
    quiet: bool,
    server_options: Mapping[str, Any],
    options: Mapping[str, Any],
    force: bool = False,
    before_writing: Callable[[], None] | None = None,
) -> tuple[StoreServer, CachedStore | None]:
    """A store server (not started) of ``data`` for today's web app.

    Parameters
    ----------
    data
        A Cellucid-ready store path (served as it is), or an AnnData / ``.h5ad`` / Zarr
        store written into the export cache first.
    port, host, quiet
        As for :class:`~cellucid.serving.stores.StoreServer`.
    server_options
        ``allowed_hosts``, ``verbose``, ``web_source_url`` (the app's site).
    options
        Launch choices and writer keywords (:func:`split_options`); ``dataset_name`` and
        ``dataset_id`` name the dataset.
    force
        Write the cached store again.
    before_writing
        Called once before a store is written into the cache (not when one is reused).

    Returns
    -------
    tuple
        The server, and the cached store (None when ``data`` was served as it is).
    """
    choices, writer = split_options(options)
    options_of_server = dict(server_options)
    viewer = CurrentApp(options_of_server.pop("web_source_url", None))
    path, cached = ready_store(data), None
    identity = {}
    if path is not None:
        identity = {k: writer[k] for k in ("dataset_id", "dataset_name") if writer.get(k)}
    else:
        from cellucid.anndata_store import check_store_input

        check_store_input(data)  # nothing there, or not an HDF5 file / Zarr store: say so
        cached = cached_store(
            data, _named(data, writer), force=force, before_writing=before_writing
        )
        path = cached.path
    defaults = launch_defaults_for(path, choices)
    server = StoreServer(
        path,
        port,
        host,
        viewer=viewer,
        quiet=quiet,
        defaults=defaults,
        **identity,
        **options_of_server,
    )
    return server, cached
