"""``show()``: the viewer inside a Jupyter notebook, backed by a background data server."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from cellucid.notebook import bridge
from cellucid.notebook.hooks import ViewerEvents
from cellucid.notebook.links import make_link
from cellucid.serving.channel import wire
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

    Parameters
    ----------
    server
        The running data server the iframe opens.
    height
        Height of the iframe in pixels.
    owns_server
        ``stop()`` stops the server too.
    app
        Which viewer build the iframe opens. ``"pinned"``: the pinned 2025 build in its
        Jupyter mode (``?jupyter=true&viewerId=...&viewerToken=...``), which posts its events
        to ``/_cellucid/events`` and obeys ``postMessage`` commands. ``"current"``: today's
        web app (``?viewer=true&viewerId=...&viewerToken=...&anndata=true``), which opens the
        notebook channel ``/_cellucid/ws``. The hooks and commands are the same for both;
        docs/notebooks.md lists what each build does with them.
    """

    def __init__(
        self,
        server: Any,
        height: int,
        owns_server: bool = True,
        *,
        app: str = "pinned",
    ) -> None:
        super().__init__()
        self.server = server
        self.height = height
        self.owns_server = owns_server
        self.link = make_link(app, server, self.deliver)
        self.viewer_id, self.token = self.link.viewer_id, self.link.token
        self.sent_messages: list[dict[str, Any]] = []
        self._displayed = False

    @property
    def app(self) -> str:
        """``"pinned"`` or ``"current"``: the viewer build in the iframe."""
        return self.link.app

    @property
    def connected(self) -> bool | None:
        """Whether the current app has its channel open (None for the pinned build: unknown)."""
        return None if self._stopped else self.link.connected()

    @property
    def url(self) -> str:
        """The iframe's address: direct, or through jupyter-server-proxy.

        Both builds read the server at the page's own folder, so the same query works
        behind a proxy path.
        """
        prefix = proxy_prefix()
        base = self.server.url if prefix is None else f"{prefix}{self.server.port}"
        if self.app == "pinned" and len(self.server.datasets()) > 1:
            # the Jupyter mode takes no dataset parameter: a folder of exports opens its
            # first dataset in the remote mode, without hooks
            if prefix is None:
                return self.server.viewer_url
            return f"{base}/?source=remote{self.server.dataset_query()}"
        return f"{base}/?{self.link.query()}"

    def _repr_html_(self) -> str:
        self._displayed = True
        return self.link.html(self.url, self.height)

    def __repr__(self) -> str:
        if self._stopped:
            state = "stopped"
        elif self.app == "pinned":
            state = "events by POST, commands by postMessage"
        else:
            state = "channel open" if self.connected else "waiting for the app to connect"
        hooks = sum(len(callbacks) for callbacks in self._hooks.values())
        return (
            f"<NotebookViewer {self.app} app at {self.server.url}, viewer {self.viewer_id}: "
            f"{state}; {hooks} hook{'s' * (hooks != 1)}; "
            f"{len(self.sent_messages)} command{'s' * (len(self.sent_messages) != 1)} sent>"
        )

    # -- Python -> viewer ---------------------------------------------------------------
    def wait_for_event(
        self,
        event: str,
        timeout: float | None = 30.0,
        *,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """As :meth:`ViewerEvents.wait_for_event`; a timeout says why no event may have come
        (no viewer files on this machine, or no page open on this viewer)."""
        try:
            return super().wait_for_event(event, timeout, predicate=predicate)
        except TimeoutError as error:
            raise TimeoutError(f"{error}. {self._why_no_events()}") from None

    def _why_no_events(self) -> str:
        problem = self.server.viewer_problem()
        if problem:
            return f"The viewer cannot open on this machine: {problem}"
        if self.connected is False:
            return (
                "No page of this viewer is open: display it in a notebook cell, or open "
                f"{self.url} in a browser on this machine."
            )
        return f"Is the viewer open ({self.url})? Events come only from a page showing it."

    def send_message(self, message: dict[str, Any]) -> None:
        """Send ``message`` (a dict with ``type``) to the viewer in the iframe.

        Pinned build: the viewer id and token are added and the message is posted by a
        script (outside Jupyter nothing is shown). Current app: the message is checked
        against the channel's protocol and sent on the channel, or queued until the app
        connects. Either way it is kept in ``sent_messages``.

        Raises
        ------
        RuntimeError
            After ``stop()``.
        ValueError, TypeError
            A message the viewer build would refuse (current app: any type or key outside
            the protocol).
        """
        if self._stopped:
            raise RuntimeError("the viewer was stopped; it takes no more commands")
        shown = self._displayed and in_jupyter()
        self.sent_messages.append(self.link.send(message, shown))

    def highlight_cells(self, cell_indices: Iterable[int], color: str = "#ff0000") -> None:
        """Highlight cells (unique non-negative indices) in ``color`` (``#rrggbb``)."""
        if self.app == "pinned":
            return self.send_message(bridge.highlight(cell_indices, color))
        cells = wire.cell_array(cell_indices, "cell_indices")
        self.send_message({"type": "highlight", "cells": cells, "color": color})

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
        if cell_indices is None:
            cells = None
        elif self.app == "pinned":
            cells = bridge.cell_list(cell_indices, empty=True)
        else:
            cells = wire.cell_array(cell_indices, "cell_indices")
        self.send_message({"type": "setVisibility", "cells": cells, "visible": bool(visible)})

    def reset_view(self) -> None:
        """Reset the camera."""
        self.send_message({"type": "resetCamera"})

    def stop(self) -> None:
        """Freeze the shown view, close its channel, refuse further events, stop the server.

        Waits in ``wait_for_event`` end with RuntimeError. Calling it again does nothing.
        """
        if self._stopped:
            return
        self._stopped = True
        self.stop_events()
        self.link.close(self._displayed and in_jupyter())
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
