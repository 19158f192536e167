"""``serve_anndata()`` / ``show_anndata()``: view an AnnData without managing an export.

The data is exported by the streaming engine (``prepare_anndata``) in a background thread
into the export cache (``<cache>/exports/<key>/``, see ``serving/exportcache.py``), in an
order that makes the folder viewable early (``engine.sections.early_view``): the server
starts as soon as the identity, manifests, points, obs and connectivity exist, and a gene
file asked for before it is written waits for it (``serving/background.py``). The same data
with the same options opens the finished export again, without exporting.
"""

from __future__ import annotations

import shutil
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
    data: Any, port: int, host: str, quiet: bool, server_options: dict, options: dict
) -> CellucidServer:
    """A server (not started) of the cached export of ``data``, once the viewer can open it.

    ``options`` are :func:`start_cached_export`'s, ``server_options`` further
    :class:`CellucidServer` arguments.
    """
    job = start_cached_export(data, **options)
    job.wait_viewable(VIEWABLE_TIMEOUT)
    return CellucidServer(
        job.folder, port, host, quiet=quiet, pending=None if job.done else job, **server_options
    )


def serve_anndata(
    data: Any,
    port: int = 8765,
    host: str = "127.0.0.1",
    open_browser: bool = True,
    quiet: bool = False,
    *,
    block: bool = False,
    allowed_hosts: tuple[str, ...] = (),
    web_source_url: str | None = None,
    **options: Any,
) -> CellucidServer:
    """Serve an AnnData, ``.h5ad`` file or Zarr store to the viewer, with no export to manage.

    The export is cached (see :func:`cellucid.get_export_cache_dir`); the server starts as
    soon as the viewer can open, while the gene files are still being written.

    Parameters
    ----------
    data
        An AnnData (in memory or backed) or the path of a ``.h5ad`` file or Zarr store.
    port, host
        Where to listen (busy ports move to the next free one; 0 picks any).
    open_browser
        Open the viewer in the default browser.
    quiet
        Print no banner (a viewer build that cannot be downloaded is still reported, on
        stderr). The export itself prints nothing (it runs in the background).
    block
        Serve in this thread until Ctrl+C (the CLI); otherwise serve in the background and
        return the running server (``.stop()`` stops it).
    allowed_hosts, web_source_url
        As for :class:`cellucid.CellucidServer`.
    **options
        Any :func:`cellucid.prepare_anndata` option (``latent_key``, ``obs_keys``,
        ``compression``, ``var_quantization``, ...), except ``out_dir``; ``force=True``
        exports again instead of opening the cached export.

    Returns
    -------
    CellucidServer
        The server; ``server.pending`` is the background export while it runs.
    """
    server_options = {"allowed_hosts": allowed_hosts, "web_source_url": web_source_url}
    options["quiet"] = True  # export messages from a background thread would garble the banner
    server = cached_server(data, port, host, quiet, server_options, options)
    return start_server(server, quiet=quiet, open_browser=open_browser, block=block)


def show_anndata(
    data: Any,
    height: int = 600,
    *,
    host: str = "127.0.0.1",
    allowed_hosts: tuple[str, ...] = (),
    **options: Any,
) -> NotebookViewer:
    """Show an AnnData, ``.h5ad`` file or Zarr store in the notebook, with hooks.

    Parameters
    ----------
    data
        An AnnData (in memory or backed) or the path of a ``.h5ad`` file or Zarr store.
    height
        Height of the iframe in pixels.
    host, allowed_hosts
        As for :func:`cellucid.show`.
    **options
        Any :func:`cellucid.prepare_anndata` option, except ``out_dir`` (as for
        :func:`serve_anndata`).

    Returns
    -------
    NotebookViewer
        The viewer, with the hooks and commands of :func:`cellucid.show`.
    """
    server = cached_server(data, 0, host, True, {"allowed_hosts": allowed_hosts}, options)
    start_server(server, quiet=True)
    return display_viewer(NotebookViewer(server, height))
