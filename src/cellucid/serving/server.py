"""The data server: a threaded HTTP server over one export folder or an exports root."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cellucid.serving.builds import build_for_layout
from cellucid.serving.datasets import Dataset, discover
from cellucid.serving.events import EventRouter
from cellucid.serving.handler import CellucidHandler
from cellucid.serving.hosts import normalise_allowed
from cellucid.serving.lifecycle import (
    IDLE_TIMEOUT,
    PORT_ATTEMPTS,
    WILDCARDS,
    ServerLifecycle,
    bind,
)
from cellucid.serving.viewer import ViewerAssets
from cellucid.sinks.folder.format.naming import IDENTITY_NAME
from cellucid.sinks.folder.layouts import detect_layout
from cellucid.sinks.folder.unfinished import unfinished_message

PENDING_TIMEOUT = 120.0  # seconds a request waits for a file the running export will write

__all__ = ["IDLE_TIMEOUT", "PORT_ATTEMPTS", "WILDCARDS", "CellucidServer", "bind"]


def common_layout(datasets: list[Dataset]) -> str:
    """The one export layout of ``datasets``; one viewer build reads only one layout.

    Raises
    ------
    ValueError
        Naming the exports of each layout when they differ.
    """
    by_layout: dict[str, list[str]] = {}
    for dataset in datasets:
        by_layout.setdefault(detect_layout(dataset.folder), []).append(dataset.folder.name)
    if len(by_layout) > 1:
        groups = "; ".join(
            f"{layout} layout: {', '.join(names)}" for layout, names in sorted(by_layout.items())
        )
        raise ValueError(
            "these exports have different layouts and no one viewer build reads both "
            f"({groups}); serve each layout's exports from its own folder"
        )
    return next(iter(by_layout))


class CellucidServer(ServerLifecycle):
    """Serves an export folder (or a folder of exports) to the Cellucid viewer.

    Parameters
    ----------
    data_dir
        An export folder (with ``dataset_identity.json``) or a folder whose subfolders
        are exports.
    port
        Port to try first; busy ports move to the next free one (up to +100). 0 picks any.
    host
        Interface to bind; the default ``127.0.0.1`` is reachable from this machine only.
    quiet, verbose
        Print no banner; log every request.
    viewer
        The viewer files to serve; default the pinned build for the exports' layout.
    allowed_hosts
        Host names (``name`` or ``name:port``) accepted in the ``Host`` header besides
        localhost, 127.0.0.1 and [::1] on the bound port, e.g. a reverse proxy's name.
    web_source_url
        Where the viewer build is fetched from (default ``$CELLUCID_WEB_SOURCE_URL`` or
        raw.githubusercontent.com/theislab/cellucid).
    idle_timeout
        Seconds an idle connection stays open.
    pending
        The export still writing ``data_dir`` (a
        :class:`~cellucid.serving.background.BackgroundExport`): a request for a file it
        lists but has not written yet waits up to ``pending_timeout`` seconds for it.
    """

    def __init__(
        self,
        data_dir: str | Path,
        port: int = 8765,
        host: str = "127.0.0.1",
        *,
        quiet: bool = False,
        verbose: bool = False,
        viewer: ViewerAssets | None = None,
        allowed_hosts: Iterable[str] = (),
        web_source_url: str | None = None,
        idle_timeout: float = IDLE_TIMEOUT,
        pending: Any = None,
        pending_timeout: float = PENDING_TIMEOUT,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        if not self.data_dir.is_dir():
            raise FileNotFoundError(f"Not a folder: {data_dir}")
        self.mode, found = discover(self.data_dir)
        if not found:
            raise ValueError(
                unfinished_message(self.data_dir)
                or f"{data_dir} holds no export (no {IDENTITY_NAME} in it or its "
                "subfolders). "
                "Create one with: cellucid prepare INPUT OUTDIR"
            )
        self.layout = common_layout(found)
        self.requested_port = port
        self.host = host
        self.quiet = quiet
        self.verbose = verbose
        self.idle_timeout = idle_timeout
        self.allowed_hosts = normalise_allowed(allowed_hosts)
        self.viewer = viewer or ViewerAssets(build_for_layout(self.layout), web_source_url)
        self.pending = pending
        self.pending_timeout = pending_timeout
        # the notebook viewers whose events this server accepts (see serving/events.py)
        self.events = EventRouter()
        self._init_lifecycle()

    handler_class = CellucidHandler

    # -- state ----------------------------------------------------------------------
    @property
    def viewer_url(self) -> str:
        """The served viewer build, opening this server's (first) dataset directly."""
        return f"{self.url}/?remote={self.url}{self.dataset_query()}"

    def datasets(self) -> list[Dataset]:
        """The exports served now (a new export under a root appears without a restart)."""
        return discover(self.data_dir)[1]

    def banner(self) -> str:
        names = ", ".join(d.name for d in self.datasets())
        lines = [
            f"Serving {self.data_dir} ({names})",
            f"  Data:   {self.url}/_cellucid/datasets",
            f"  Viewer: {self.viewer_url}",
        ]
        lines += self._port_and_exposure_lines()
        return "\n".join(lines)
