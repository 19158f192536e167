"""The data server: a threaded HTTP server over one export folder or an exports root."""

from __future__ import annotations

import errno
import socket
import threading
import webbrowser
from http.server import ThreadingHTTPServer
from pathlib import Path

from cellucid.serving.datasets import Dataset, discover
from cellucid.serving.handler import CellucidHandler
from cellucid.serving.viewer import ViewerAssets

PORT_ATTEMPTS = 101  # the requested port and the next 100


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # bursts of parallel requests from the viewer
    app: CellucidServer


def bind(host: str, port: int) -> _HTTPServer:
    """Bind to ``port`` or, when busy, the next free one (up to +100); 0 picks any."""
    candidates = [0] if port == 0 else range(port, min(port + PORT_ATTEMPTS, 65536))
    last_error: OSError | None = None
    for candidate in candidates:
        try:
            return _HTTPServer((host, candidate), CellucidHandler)
        except OSError as error:
            if error.errno not in (errno.EADDRINUSE, errno.EACCES):
                raise
            last_error = error
    raise OSError(
        errno.EADDRINUSE,
        f"No free port from {port} to {port + PORT_ATTEMPTS - 1} on {host}; "
        "choose another with --port (0 picks any free port).",
    ) from last_error


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
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        if not self.data_dir.is_dir():
            raise FileNotFoundError(f"Not a folder: {data_dir}")
        self.mode, found = discover(self.data_dir)
        if not found:
            raise ValueError(
                f"{data_dir} holds no export (no dataset_identity.json in it or its subfolders). "
                "Create one with: cellucid prepare INPUT OUTDIR"
            )
        self.requested_port = port
        self.host = host
        self.quiet = quiet
        self.verbose = verbose
        self.viewer = viewer or ViewerAssets()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- state ----------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The port actually bound (the requested one before starting)."""
        return self._httpd.server_address[1] if self._httpd else self.requested_port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def viewer_url(self) -> str:
        """The viewer, served from this origin, reading this server's data."""
        return f"{self.url}/?remote={self.url}"

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def datasets(self) -> list[Dataset]:
        """The exports served now (a new export under a root appears without a restart)."""
        return discover(self.data_dir)[1]

    # -- life cycle -------------------------------------------------------------------
    def _bind(self) -> None:
        if self._httpd is None:
            self._httpd = bind(self.host, self.requested_port)
            self._httpd.app = self

    def start(self) -> CellucidServer:
        """Serve in a background thread; returns self."""
        if self._thread is not None:
            return self
        self._bind()
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
        self._bind()
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
        lines.append("Press Ctrl+C to stop.")
        return "\n".join(lines)

    def __enter__(self) -> CellucidServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    data_dir: str | Path,
    port: int = 8765,
    host: str = "127.0.0.1",
    open_browser: bool = True,
    quiet: bool = False,
) -> None:
    """Serve an export folder (or exports root) until Ctrl+C.

    Parameters
    ----------
    data_dir
        Export folder or folder of exports.
    port
        First port to try (busy ports move to the next free one); 0 picks any.
    host
        Interface to bind (default loopback only).
    open_browser
        Open the viewer in the default browser.
    quiet
        Print no banner.
    """
    server = CellucidServer(data_dir, port, host, quiet=quiet)
    server._bind()
    if not quiet:
        print(server.banner(), flush=True)
    if open_browser:
        webbrowser.open(server.viewer_url)
    server.serve_forever()


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free now (for tests and notebooks)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]
