"""What every data server shares: binding a port, the origin it answers as, the Host check,
and starting and stopping the threaded HTTP server.

:class:`~cellucid.serving.server.CellucidServer` (export folders) and
:class:`~cellucid.serving.stores.server.StoreServer` (Cellucid-ready AnnData stores) differ
only in what they serve; both build on :class:`ServerLifecycle`.
"""

from __future__ import annotations

import errno
import threading
from http.server import BaseHTTPRequestHandler
from typing import Self
from urllib.parse import quote

from cellucid.serving.channel import ChannelHub
from cellucid.serving.hosts import host_allowed
from cellucid.serving.httpd import HTTPServer
from cellucid.serving.inventory import IntegrityError
from cellucid.serving.offline import offline_help
from cellucid.serving.viewer import ViewerUnavailable

PORT_ATTEMPTS = 101  # the requested port and the next 100
IDLE_TIMEOUT = 20.0  # seconds a connection may sit idle before it is closed
WILDCARDS = ("", "0.0.0.0", "::")


def bind(host: str, port: int, handler: type[BaseHTTPRequestHandler] | None = None) -> HTTPServer:
    """Bind to ``port`` or, when busy, the next free one (up to +100); 0 picks any.

    Parameters
    ----------
    host, port
        Where to listen.
    handler
        The request handler class; default :class:`~cellucid.serving.handler.CellucidHandler`.
    """
    if handler is None:
        from cellucid.serving.handler import CellucidHandler

        handler = CellucidHandler
    candidates = [0] if port == 0 else range(port, min(port + PORT_ATTEMPTS, 65536))
    last_error: OSError | None = None
    for candidate in candidates:
        try:
            return HTTPServer((host, candidate), handler)
        except OSError as error:
            if error.errno not in (errno.EADDRINUSE, errno.EACCES):
                raise
            last_error = error
    raise OSError(
        errno.EADDRINUSE,
        f"No free port from {port} to {port + PORT_ATTEMPTS - 1} on {host}; "
        "choose another with --port (0 picks any free port).",
    ) from last_error


class ServerLifecycle:
    """Port, origin, Host check and life cycle of a data server.

    A subclass sets ``host``, ``requested_port`` and ``allowed_hosts`` (from
    :func:`~cellucid.serving.hosts.normalise_allowed`) in its ``__init__`` and calls
    :meth:`_init_lifecycle`; ``handler_class`` names its request handler.
    """

    handler_class: type[BaseHTTPRequestHandler] | None = None
    host: str
    requested_port: int
    allowed_hosts: list[tuple[str, int | None]]

    def _init_lifecycle(self) -> None:
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        # the notebook viewers of the current app and their channels (serving/channel/)
        self.channel = ChannelHub()

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

    def host_allowed(self, host_header: str | None) -> bool:
        """Whether a request's ``Host`` header names this server (DNS rebinding defence)."""
        extra = list(self.allowed_hosts)
        if self.host not in WILDCARDS:
            bound = f"[{self.host}]" if ":" in self.host else self.host
            extra.append((bound.lower(), self.port))
        return host_allowed(host_header, self.port, extra)

    @property
    def running(self) -> bool:
        return self._httpd is not None

    # -- life cycle -------------------------------------------------------------------
    def listen(self) -> Self:
        """Bind the requested port, or the next free one, without serving yet; returns self.

        Raises
        ------
        OSError
            When no port is free (see :func:`bind`).
        """
        if self._httpd is None:
            self._httpd = bind(self.host, self.requested_port, self.handler_class)
            self._httpd.app = self
        return self

    def start(self) -> Self:
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
        self.channel.close_all()  # an open channel would outlive the server otherwise
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

    def dataset_query(self) -> str:
        """``&dataset=<id>`` when several datasets are served (the viewer then needs it)."""
        found = self.datasets()
        return f"&dataset={quote(found[0].id, safe='')}" if len(found) > 1 else ""

    def viewer_problem(self) -> str | None:
        """None when the viewer page can be served now (fetching it if needed) or no viewer
        is served, else what to do about it."""
        if self.viewer is None:
            return None
        try:
            asset = self.viewer.asset("/")
            if asset is None:
                return "the viewer's file list has no index.html"
            self.viewer.file(asset)
        except (ViewerUnavailable, IntegrityError):
            return offline_help(self.viewer)
        return None

    def _port_and_exposure_lines(self) -> list[str]:
        """The banner's lines about a busy port and a non-loopback interface."""
        lines = []
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
        return lines

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
