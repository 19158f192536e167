"""``show()``: the viewer inside a Jupyter notebook, backed by a background data server."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from cellucid.notebook import bridge
from cellucid.notebook.hooks import ViewerEvents
from cellucid.serving.server import CellucidServer
from cellucid.serving.start import start_server, stop_server


def in_jupyter() -> bool:
    """Whether this code runs in a Jupyter kernel."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ip = shell.get_ipython()
    return ip is not None and hasattr(ip, "kernel")


def proxy_prefix() -> str | None:
    """The jupyter-server-proxy base path (``<base_url>proxy/``) when behind one.

    ``CELLUCID_JUPYTER_BASE_URL`` names the notebook server's base URL explicitly;
    otherwise JupyterHub's ``JUPYTERHUB_SERVICE_PREFIX`` is used.
    """
    base = os.environ.get("CELLUCID_JUPYTER_BASE_URL") or os.environ.get(
        "JUPYTERHUB_SERVICE_PREFIX"
    )
    if not base:
        return None
    return base.rstrip("/") + "/proxy/"


class NotebookViewer(ViewerEvents):
    """A viewer shown in a notebook: its events (hooks) and commands to it.

    The iframe opens the pinned viewer build in its Jupyter mode
    (``?jupyter=true&viewerId=...&viewerToken=...``): the viewer posts its events to this
    server with the token, and obeys ``postMessage`` commands carrying it. Which commands
    the pinned build honours is listed in docs/notebooks.md.
    """

    def __init__(self, server: CellucidServer, height: int, owns_server: bool = True) -> None:
        super().__init__()
        self.server = server
        self.height = height
        self.owns_server = owns_server
        self.viewer_id, self.token = server.events.register(self.deliver)
        self.sent_messages: list[dict[str, Any]] = []
        self._displayed = False

    @property
    def url(self) -> str:
        """The iframe's address: direct, or through jupyter-server-proxy.

        The Jupyter mode reads the server at the page's own folder, so the same query works
        behind a proxy path.
        """
        prefix = proxy_prefix()
        base = self.server.url if prefix is None else f"{prefix}{self.server.port}"
        if len(self.server.datasets()) > 1:
            # the Jupyter mode takes no dataset parameter: a folder of exports opens its
            # first dataset in the remote mode, without hooks
            if prefix is None:
                return self.server.viewer_url
            return f"{base}/?source=remote{self.server.dataset_query()}"
        query = urlencode(
            {"jupyter": "true", "viewerId": self.viewer_id, "viewerToken": self.token}
        )
        return f"{base}/?{query}"

    def _repr_html_(self) -> str:
        self._displayed = True
        return bridge.iframe_html(self.url, self.viewer_id, self.height)

    # -- Python -> viewer ---------------------------------------------------------------
    def send_message(self, message: dict[str, Any]) -> None:
        """Post ``message`` (a dict with ``type``) to the viewer in the iframe.

        The viewer id and token are added; the pinned build ignores a message without them.
        Outside Jupyter nothing is shown (the message is kept in ``sent_messages``).
        """
        full = {**message, "viewerId": self.viewer_id, "viewerToken": self.token}
        self.sent_messages.append(full)
        if self._displayed and in_jupyter():
            from IPython.display import Javascript, display

            display(Javascript(bridge.post_script(self.viewer_id, full)))

    def highlight_cells(self, cell_indices: Iterable[int], color: str = "#ff0000") -> None:
        """Highlight cells (unique non-negative indices) in ``color`` (``#rrggbb``)."""
        self.send_message(bridge.highlight(cell_indices, color))

    def clear_highlights(self) -> None:
        """Remove every highlight."""
        self.send_message({"type": "clearHighlights"})

    def set_color_by(self, field: str) -> None:
        """Colour the cells by the obs field (or gene) named ``field``."""
        self.send_message({"type": "setColorBy", "field": bridge.exact_text(field, "field")})

    def set_visibility(
        self, cell_indices: Iterable[int] | None = None, visible: bool = True
    ) -> None:
        """Show or hide cells (all cells when ``cell_indices`` is None)."""
        cells = None if cell_indices is None else bridge.cell_list(cell_indices, empty=True)
        self.send_message({"type": "setVisibility", "cells": cells, "visible": bool(visible)})

    def reset_view(self) -> None:
        """Reset the camera."""
        self.send_message({"type": "resetCamera"})

    def stop(self) -> None:
        """Freeze the shown view, refuse further events and stop the data server."""
        if self._displayed:
            self.send_message({"type": "freeze"})
        self.server.events.unregister(self.viewer_id)
        self.clear_hooks()
        if self.owns_server:
            stop_server(self.server)


def display_viewer(viewer: NotebookViewer) -> NotebookViewer:
    """Display the iframe in Jupyter, or print its URL elsewhere; returns ``viewer``."""
    if in_jupyter():
        from IPython.display import HTML, display

        display(HTML(viewer._repr_html_()))
    else:
        print(f"Cellucid viewer: {viewer.url}")
    return viewer


def show(
    data_dir: str | Path,
    height: int = 600,
    *,
    host: str = "127.0.0.1",
    allowed_hosts: Iterable[str] = (),
) -> NotebookViewer:
    """Show an export in the notebook (or print its URL outside Jupyter).

    Starts a data server in the background on a free port; it stops at interpreter exit or
    with the returned object's ``stop()``. Behind jupyter-server-proxy (JupyterHub, or
    ``CELLUCID_JUPYTER_BASE_URL`` set) the iframe goes through ``<base_url>proxy/<port>/``.
    When the viewer build is neither cached nor downloadable, the steps to bring it onto
    this machine are printed on stderr.

    Parameters
    ----------
    data_dir
        Export folder or folder of exports.
    height
        Height of the iframe in pixels.
    host
        Interface of the data server.
    allowed_hosts
        Extra names the server accepts in the ``Host`` header, e.g. the notebook server's
        host name when a proxy forwards it unchanged.

    Returns
    -------
    NotebookViewer
        The shown viewer: ``url``, the hooks (``on_selection``, ``on_hover``,
        ``on_click``, ``on_ready``, ``on_message``, ``wait_for_event``,
        ``wait_for_ready``), the commands (``highlight_cells``, ``clear_highlights``,
        ``set_color_by``, ``set_visibility``, ``reset_view``, ``send_message``) and
        ``stop()``.
    """
    if not isinstance(data_dir, (str, Path)) or Path(data_dir).suffix in (".h5ad", ".zarr"):
        raise TypeError(
            "show() takes an export folder; for an AnnData or a .h5ad file use "
            "cellucid.show_anndata(...), or `cellucid serve atlas.h5ad` in a shell"
        )
    server = CellucidServer(data_dir, port=0, host=host, quiet=True, allowed_hosts=allowed_hosts)
    start_server(server, quiet=True)
    return display_viewer(NotebookViewer(server, height))
