"""The data server: a threaded HTTP server over one export folder or an exports root."""

from __future__ import annotations

import errno
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cellucid.serving.builds import build_for_layout
from cellucid.serving.datasets import Dataset, discover
from cellucid.serving.events import EventRouter
from cellucid.serving.handler import CellucidHandler
from cellucid.serving.hosts import host_allowed, normalise_allowed
from cellucid.serving.httpd import HTTPServer
from cellucid.serving.inventory import IntegrityError
from cellucid.serving.offline import offline_help
from cellucid.serving.viewer import ViewerAssets, ViewerUnavailable
from cellucid.sinks.folder.format.naming import IDENTITY_NAME
from cellucid.sinks.folder.layouts import detect_layout
from cellucid.sinks.folder.unfinished import unfinished_message

PENDING_TIMEOUT = 120.0  # seconds a request waits for a file the running export will write
PORT_ATTEMPTS = 101  # the requested port and the next 100
IDLE_TIMEOUT = 20.0  # seconds a connection may sit idle before it is closed
WILDCARDS = ("", "0.0.0.0", "::")


def bind(host: str, port: int) -> HTTPServer:
    """Bind to ``port`` or, when busy, the next free one (up to +100); 0 picks any."""
    candidates = [0] if port == 0 else range(port, min(port + PORT_ATTEMPTS, 65536))
    last_error: OSError | None = None
    for candidate in candidates:
        try:
            return HTTPServer((host, candidate), CellucidHandler)
        except OSError as error:
            if error.errno not in (errno.EADDRINUSE, errno.EACCES):
                raise
            last_error = error
    raise OSError(
        errno.EADDRINUSE,
        f"No free port from {port} to {port + PORT_ATTEMPTS - 1} on {host}; "
        "choose another with --port (0 picks any free port).",
    ) from last_error


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


class CellucidServer:
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
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- state ----------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The port actually bound (the requested one before starting)."""
        return self._httpd.server_address[1] if self._httpd else self.requested_port

    @property
    def url(self) -> str:
        """The data server's origin as a browser on this machine reaches it."""
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def dataset_query(self) -> str:
        """``&dataset=<id>`` when several exports are served (the viewer then needs it)."""
        found = self.datasets()
        return f"&dataset={quote(found[0].id, safe='')}" if len(found) > 1 else ""

    @property
    def viewer_url(self) -> str:
        """The served viewer build, opening this server's (first) dataset directly."""
        return f"{self.url}/?remote={self.url}{self.dataset_query()}"

    def host_allowed(self, host_header: str | None) -> bool:
        """Whether a request's ``Host`` header names this server (DNS rebinding defence)."""
        extra = list(self.allowed_hosts)
        if self.host not in WILDCARDS:
            bound = f"[{self.host}]" if ":" in self.host else self.host
            extra.append((bound.lower(), self.port))
        return host_allowed(host_header, self.port, extra)

    def viewer_problem(self) -> str | None:
        """None when the viewer page can be served now (fetching it if needed), else what
        to do about it."""
        try:
            asset = self.viewer.asset("/")
            if asset is None:
                return f"the pinned viewer build {self.viewer.build.commit} has no index.html"
            self.viewer.file(asset)
        except (ViewerUnavailable, IntegrityError):
            return offline_help(self.viewer)
        return None

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def datasets(self) -> list[Dataset]:
        """The exports served now (a new export under a root appears without a restart)."""
        return discover(self.data_dir)[1]

    # -- life cycle -------------------------------------------------------------------
    def listen(self) -> CellucidServer:
        """Bind the requested port, or the next free one, without serving yet; returns self.

        Raises
        ------
        OSError
            When no port is free (see :func:`bind`).
        """
        if self._httpd is None:
            self._httpd = bind(self.host, self.requested_port)
            self._httpd.app = self
        return self

    def start(self) -> CellucidServer:
        """Serve in a background thread; returns self."""
        if self._thread is not None:
            return self
        self.listen()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name=f"cellucid-server-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is not None:
            if thread is not None:
                httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (KeyboardInterrupt propagates)."""
        self.listen()
        try:
            self._httpd.serve_forever()
        finally:
            httpd, self._httpd = self._httpd, None
            if httpd is not None:
                httpd.server_close()

    def banner(self) -> str:
        names = ", ".join(d.name for d in self.datasets())
        lines = [
            f"Serving {self.data_dir} ({names})",
            f"  Data:   {self.url}/",
            f"  Viewer: {self.viewer_url}",
        ]
        if self.requested_port not in (0, self.port):
            lines.append(f"  (port {self.requested_port} was busy; using {self.port})")
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            lines.append(
                f"  ⚠ Listening on {self.host}: anyone who can reach it can read the data."
            )
        if self.host in WILDCARDS and not self.allowed_hosts:
            lines.append(
                "  Other machines must be named with --allowed-host NAME (Host header check)."
            )
        lines.append("Press Ctrl+C to stop.")
        return "\n".join(lines)

    def __enter__(self) -> CellucidServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
