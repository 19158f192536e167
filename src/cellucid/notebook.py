"""``show()``: the viewer inside a Jupyter notebook, backed by a background data server."""

from __future__ import annotations

import atexit
import html
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from cellucid.serving.server import CellucidServer

_RUNNING: list[CellucidServer] = []


def _stop_all() -> None:
    while _RUNNING:
        _RUNNING.pop().stop()


atexit.register(_stop_all)


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


class NotebookViewer:
    """A viewer shown in a notebook; :meth:`stop` stops its data server."""

    def __init__(self, server: CellucidServer, height: int) -> None:
        self.server = server
        self.height = height

    @property
    def url(self) -> str:
        """The iframe's address: direct, or through jupyter-server-proxy."""
        prefix = proxy_prefix()
        if prefix is None:
            return self.server.viewer_url
        # the viewer's remote= must be an absolute URL, which the proxy path is not: the
        # same-origin mode finds the server at the page's own folder instead
        return f"{prefix}{self.server.port}/?source=remote{self.server.dataset_query()}"

    def _repr_html_(self) -> str:
        src = html.escape(self.url, quote=True)
        return (
            f'<iframe src="{src}" width="100%" height="{int(self.height)}" '
            'style="border: 0" allow="fullscreen; clipboard-write"></iframe>'
            f'<p><a href="{src}" target="_blank">Open the viewer in a new tab</a></p>'
        )

    def stop(self) -> None:
        """Stop the data server."""
        self.server.stop()
        if self.server in _RUNNING:
            _RUNNING.remove(self.server)


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
        The shown viewer, with ``url`` and ``stop()``.
    """
    server = CellucidServer(
        data_dir, port=0, host=host, quiet=True, allowed_hosts=allowed_hosts
    ).start()
    _RUNNING.append(server)
    viewer = NotebookViewer(server, height)
    if in_jupyter():
        from IPython.display import HTML, display

        display(HTML(viewer._repr_html_()))
    else:
        print(f"Cellucid viewer: {viewer.url}")
    return viewer
