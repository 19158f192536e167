"""``serve_anndata()`` / ``show_anndata()``: view an AnnData without managing an export.

Two viewers, chosen by ``viewer``:

- ``"current"`` (default): today's Cellucid web app, over a Cellucid-ready store: served as
  it is when ``data`` is one, else written by the streaming store writer into the export
  cache first (``serving/current_route.py``);
- ``"pinned"``: the pinned viewer build, over an export folder, as follows.

For the pinned viewer, the data is exported by the streaming engine (``prepare_anndata``)
in a background thread into the export cache (``<cache>/exports/<key>/``, see
``serving/exportcache.py``), in an order that makes the folder viewable early
(``engine.sections.early_view``): the server starts as soon as the identity, manifests,
points, obs and connectivity exist, and a gene file asked for before it is written waits
for it (``serving/background.py``). The same data with the same options opens the finished
export again, without exporting.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cellucid.errors import ExportMismatchError
from cellucid.notebook.show import NotebookViewer, display_viewer
from cellucid.serving.background import BackgroundExport
from cellucid.serving.exportcache import (
    cache_key,
    canonical_settings,
    get_export_cache_dir,
    mark_used,
    prune_export_cache,
)
from cellucid.serving.server import CellucidServer
from cellucid.serving.start import start_server

VIEWABLE_TIMEOUT = None  # wait as long as the export needs to write its identity


def _default_name(data: Any) -> str:
    if isinstance(data, str | Path):
        return Path(data).name.removesuffix(".h5ad").removesuffix(".zarr") or "AnnData"
    filename = getattr(data, "filename", None)
    return Path(filename).stem if filename else "AnnData"


def start_cached_export(data: Any, **options: Any) -> BackgroundExport:
    """Start (or reuse) the cached export of ``data`` with ``prepare_anndata`` options.

    Parameters
    ----------
    data
        An AnnData (in memory or backed) or the path of a ``.h5ad`` file or Zarr store.
    **options
        Any :func:`cellucid.prepare_anndata` option except ``out_dir``; ``force=True``
        deletes the cached export and exports again.

    Returns
    -------
    BackgroundExport
        The running (or already complete) export into its cache folder.
    """
    from cellucid.anndata_input import prepare_anndata

    if isinstance(data, str | Path) and not Path(data).exists():
        raise FileNotFoundError(f"No such file or store: {data}")
    if "out_dir" in options:
        raise TypeError("out_dir is chosen by the export cache; use prepare_anndata() instead")
    force = bool(options.pop("force", False))
    if options.get("dataset_name") is None:
        options["dataset_name"] = _default_name(data)
    if options.get("quiet") is None:
        options["quiet"] = True
    if options.get("progress") is None:
        options["progress"] = False  # bars from a background thread would land in random cells
    folder = get_export_cache_dir() / cache_key(data, canonical_settings(options))
    if force:
        shutil.rmtree(folder, ignore_errors=True)
    mark_used(folder)
    prune_export_cache(keep=folder)

    def export(out: Path) -> None:
        try:
            prepare_anndata(data, out, **options)
        except ExportMismatchError:
            # a folder left by other data under the same key: it holds nothing to keep
            prepare_anndata(data, out, force=True, **options)

    return BackgroundExport(folder, export)


def cached_server(
    data: Any,
    port: int,
    host: str,
    quiet: bool,
    server_options: dict,
    options: dict,
    before_writing: Callable[[], None] | None = None,
) -> CellucidServer:
    """A server (not started) of the cached export of ``data``, once the viewer can open it.

    ``options`` are :func:`start_cached_export`'s, ``server_options`` further
    :class:`CellucidServer` arguments; ``before_writing`` is called when the export is
    written (not when a finished one is reused).
    """
    job = start_cached_export(data, **options)
    if before_writing is not None and not job.reused:
        before_writing()
    job.wait_viewable(VIEWABLE_TIMEOUT)
    return CellucidServer(
        job.folder, port, host, quiet=quiet, pending=None if job.done else job, **server_options
    )


#: the viewers an AnnData can be served to
VIEWERS = ("current", "pinned")


def _check_viewer(viewer: object) -> str:
    if viewer not in VIEWERS:
        raise ValueError(
            f"viewer must be 'current' (today's web app, a Cellucid-ready store) or 'pinned' "
            f"(the pinned viewer build, an export folder), got {viewer!r}"
        )
    return str(viewer)


def anndata_server(
    data: Any,
    port: int,
    host: str,
    *,
    viewer: str,
    quiet: bool,
    server_options: dict[str, Any],
    options: dict[str, Any],
    before_writing: Callable[[], None] | None = None,
) -> Any:
    """The server (not started) of ``data`` for ``viewer``: a store server for today's app,
    or an export server for the pinned build. ``options`` may hold ``force``;
    ``before_writing`` is called when a store or export is written (not when reused)."""
    if _check_viewer(viewer) == "pinned":
        return cached_server(data, port, host, quiet, server_options, options, before_writing)
    from cellucid.serving.current_route import current_app_server

    force = bool(options.pop("force", False))
    for ignored in ("quiet", "progress"):
        options.pop(ignored, None)  # the store is written silently in either case
    server, _ = current_app_server(
        data,
        port,
        host,
        quiet=quiet,
        server_options=server_options,
        options=options,
        force=force,
        before_writing=before_writing,
    )
    return server


def serve_anndata(
    data: Any,
    port: int = 8765,
    host: str = "127.0.0.1",
    open_browser: bool = True,
    quiet: bool = False,
    *,
    viewer: str = "current",
    block: bool = False,
    allowed_hosts: tuple[str, ...] = (),
    web_source_url: str | None = None,
    **options: Any,
) -> Any:
    """Serve an AnnData, ``.h5ad`` file or Zarr store to the Cellucid viewer.

    With ``viewer="current"`` (default), today's web app opens a Cellucid-ready store: a
    store given as ``data`` is served as it is; anything else is written once by the
    streaming store writer into the export cache (see :func:`cellucid.get_export_cache_dir`)
    and opened from there the next time. With ``viewer="pinned"``, the data is exported to
    an export folder in the cache for the pinned viewer build; the server starts as soon as
    it can open, while the gene files are still being written.

    Parameters
    ----------
    data
        An AnnData (in memory or backed), the path of a ``.h5ad`` file or Zarr store, or
        (today's app) a Cellucid-ready ``.zarr``, ``.zarr.zip`` or ``.h5ad``.
    port, host
        Where to listen (busy ports move to the next free one; 0 picks any).
    open_browser
        Open the viewer in the default browser.
    quiet
        Print no banner (a viewer that cannot be downloaded is still reported, on stderr).
    viewer
        ``"current"`` (today's web app) or ``"pinned"`` (the pinned build, export folders).
    block
        Serve in this thread until Ctrl+C (the CLI); otherwise serve in the background and
        return the running server (``.stop()`` stops it).
    allowed_hosts
        Extra names accepted in the ``Host`` header (e.g. a reverse proxy's).
    web_source_url
        Where the viewer is fetched from: today's app's site (default
        ``$CELLUCID_WEB_APP_URL`` or https://www.cellucid.com), or the pinned build's host.
    **options
        Today's app: upstream 0.9.5's launch choices (``latent_key``, ``obs_keys``,
        ``embedding_keys`` such as ``{"2d": "X_tsne"}``, ``knn_key``,
        ``expression_source``, ``gene_id_column``, ``vector_field_default``,
        ``normalize_embeddings``, ``centroid_min_points``, ``modality``), the dataset's
        ``dataset_name`` and ``dataset_id``, and the store writer's keywords
        (``gene_identifiers``, ``source_name``, ...). The pinned build: any
        :func:`cellucid.prepare_anndata` option except ``out_dir``. ``force=True`` writes
        the cached store or export again.

    Returns
    -------
    StoreServer or CellucidServer
        The server (``.url``, ``.viewer_url``, ``.stop()``).
    """
    server_options = {"allowed_hosts": allowed_hosts, "web_source_url": web_source_url}
    options["quiet"] = True  # export messages from a background thread would garble the banner
    server = anndata_server(
        data,
        port,
        host,
        viewer=viewer,
        quiet=quiet,
        server_options=server_options,
        options=options,
    )
    return start_server(server, quiet=quiet, open_browser=open_browser, block=block)


def show_anndata(
    data: Any,
    height: int = 600,
    *,
    viewer: str = "current",
    host: str = "127.0.0.1",
    allowed_hosts: tuple[str, ...] = (),
    web_source_url: str | None = None,
    **options: Any,
) -> NotebookViewer:
    """Show an AnnData, ``.h5ad`` file or Zarr store in the notebook, with hooks.

    Parameters
    ----------
    data
        As for :func:`serve_anndata`.
    height
        Height of the iframe in pixels.
    viewer
        ``"current"`` (today's web app, default) or ``"pinned"``.
    host, allowed_hosts
        As for :func:`cellucid.show`.
    web_source_url
        As for :func:`serve_anndata`.
    **options
        As for :func:`serve_anndata`.

    Returns
    -------
    NotebookViewer
        The viewer, with the hooks and commands of :func:`cellucid.show`.
    """
    server_options = {"allowed_hosts": allowed_hosts, "web_source_url": web_source_url}
    if _check_viewer(viewer) == "pinned":
        options.setdefault("quiet", True)
    server = anndata_server(
        data,
        0,
        host,
        viewer=viewer,
        quiet=True,
        server_options=server_options,
        options=options,
    )
    if viewer == "current":
        server.runtime = "jupyter"  # /_cellucid/info names the program the app talks to
    start_server(server, quiet=True)
    return display_viewer(NotebookViewer(server, height, app=viewer))
