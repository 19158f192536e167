"""The store server: Cellucid-ready AnnData stores, served as they are, to the current web app."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cellucid import __version__
from cellucid.serving.events import EventRouter
from cellucid.serving.hosts import normalise_allowed
from cellucid.serving.lifecycle import IDLE_TIMEOUT, ServerLifecycle
from cellucid.serving.stores.catalog import Catalog
from cellucid.serving.stores.discover import ServedStore
from cellucid.serving.stores.handler import StoreHandler
from cellucid.sinks.anndata.record import require_dataset_id

#: the query the current web app opens a same-origin AnnData server with (upstream 0.9.5)
VIEWER_QUERY = "?anndata=true"


def _changes(
    dataset_id: str | None, dataset_name: str | None, defaults: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The fields of a single store the caller replaces (checked here)."""
    changes: dict[str, Any] = {}
    if dataset_id is not None:
        changes["id"] = require_dataset_id(dataset_id)
    if dataset_name is not None:
        if not isinstance(dataset_name, str) or not dataset_name.strip():
            raise ValueError(f"dataset_name must be a non-empty string, got {dataset_name!r}")
        changes["name"] = dataset_name
    if defaults:
        changes["defaults"] = dict(defaults)
    return changes


class StoreServer(ServerLifecycle):
    """Serves Cellucid-ready AnnData stores as they are (no copy, no export) to the web app.

    Parameters
    ----------
    path
        A Cellucid-ready ``.zarr`` folder, ``.zarr.zip`` or ``.h5ad`` (one holding
        ``uns['cellucid']``), or a folder whose children are such stores (each is listed;
        the others are skipped, see :attr:`skipped`).
    port
        Port to try first; busy ports move to the next free one (up to +100). 0 picks any.
    host
        Interface to bind; the default ``127.0.0.1`` is reachable from this machine only.
    viewer
        The viewer files served at ``/`` (the current web app,
        :class:`~cellucid.serving.webapp.CurrentApp`); None serves the data routes only.
    quiet, verbose
        Print no banner; log every request.
    allowed_hosts
        Host names (``name`` or ``name:port``) accepted in the ``Host`` header besides
        localhost, 127.0.0.1 and [::1] on the bound port.
    idle_timeout
        Seconds an idle connection stays open.
    dataset_id, dataset_name
        Publish a single store under this id and name instead of its own.
    defaults
        Launch defaults published with a single store (the web app's keys, e.g.
        ``{"latentKey": "X_pca"}``), already checked against it by the caller.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    cellucid.serving.stores.StoreNotReady
        ``path`` is not a Cellucid-ready store, or a folder holding none (the message says
        why and how to make one).
    """

    handler_class = StoreHandler

    def __init__(
        self,
        path: str | Path,
        port: int = 8765,
        host: str = "127.0.0.1",
        *,
        viewer: Any = None,
        quiet: bool = False,
        verbose: bool = False,
        allowed_hosts: Iterable[str] = (),
        idle_timeout: float = IDLE_TIMEOUT,
        dataset_id: str | None = None,
        dataset_name: str | None = None,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        self.catalog = Catalog(path, _changes(dataset_id, dataset_name, defaults))
        self.path = self.data_dir = self.catalog.path.resolve()
        self.mode = "single" if self.catalog.single else "root"
        self.requested_port = port
        self.host = host
        self.quiet = quiet
        self.verbose = verbose
        self.idle_timeout = idle_timeout
        self.allowed_hosts = normalise_allowed(allowed_hosts)
        self.viewer = viewer
        self.pending = None
        #: the program serving the viewer, as ``/_cellucid/info`` names it: ``"python"``, or
        #: ``"jupyter"`` for a notebook's viewer (upstream 0.9.5's two values)
        self.runtime = "python"
        # POST /_cellucid/events is the pinned viewer's; the current app uses the channel
        self.events = EventRouter()
        self._init_lifecycle()

    # -- what is served -----------------------------------------------------------------
    def datasets(self) -> list[ServedStore]:
        """The stores served now (a folder is scanned again: a store added later appears)."""
        return self.catalog.refresh()

    @property
    def skipped(self) -> dict[str, str]:
        """Children of a served folder that are not Cellucid-ready stores: name -> why."""
        return dict(self.catalog.skipped)

    def _summary(self) -> dict[str, Any]:
        """The format and counts ``/_cellucid/health`` and ``/_cellucid/info`` report: the
        first store's (the one the viewer URL opens)."""
        stores = self.catalog.stores()
        if not stores:  # every store of the folder was removed while serving
            return {"format": None, "n_cells": None, "n_genes": None}
        first = stores[0]
        return {"format": first.kind, "n_cells": first.n_cells, "n_genes": first.n_genes}

    def health_document(self) -> dict[str, Any]:
        """``/_cellucid/health``, in upstream 0.9.5's keys and order."""
        return {"status": "ok", "type": "anndata", "version": __version__, **self._summary()}

    def info_document(self) -> dict[str, Any]:
        """``/_cellucid/info``, in upstream 0.9.5's keys and order."""
        summary = self._summary()
        return {
            "version": __version__,
            "type": "anndata",
            "format": summary["format"],
            "host": self.host,
            "port": self.port,
            "n_cells": summary["n_cells"],
            "n_genes": summary["n_genes"],
            "runtime": self.runtime,
        }

    # -- addresses ----------------------------------------------------------------------
    @property
    def viewer_url(self) -> str:
        """The web app served here, opening the (first) store: ``<origin>/?anndata=true``."""
        return f"{self.url}/{VIEWER_QUERY}{self.dataset_query()}"

    def banner(self) -> str:
        stores = self.catalog.stores()
        lines = [f"Serving {self.path}"]
        for store in stores:
            where = store.path.name if self.mode == "root" else store.container
            lines.append(
                f"  {store.name} ({store.id}; {where}, {store.n_cells:,} cells, "
                f"{store.n_genes:,} genes)"
            )
        lines += [f"  skipped: {why}" for why in self.catalog.skipped.values()]
        lines.append(f"  Data:   {self.url}/_cellucid/datasets")
        if self.viewer is not None:
            lines.append(f"  Viewer: {self.viewer_url}")
        lines += self._port_and_exposure_lines()
        return "\n".join(lines)
