"""What the request handler and the server object share: the HTTP server class and the
interface the handler needs from the application (kept here so neither imports the other)."""

from __future__ import annotations

from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from cellucid.serving.datasets import Dataset
    from cellucid.serving.viewer import ViewerAssets


class ServedApp(Protocol):
    """The application state one request handler reads."""

    data_dir: Path
    host: str
    verbose: bool
    idle_timeout: float
    viewer: ViewerAssets

    @property
    def port(self) -> int: ...

    def datasets(self) -> list[Dataset]: ...

    def host_allowed(self, host_header: str | None) -> bool: ...


class HTTPServer(ThreadingHTTPServer):
    """Threaded server: a slow request (a large file) does not hold up the others."""

    daemon_threads = True
    request_queue_size = 512  # bursts of parallel requests from the viewer
    app: ServedApp
