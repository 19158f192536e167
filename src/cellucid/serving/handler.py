"""The HTTP request handler: cellucid endpoints, export files, the viewer UI."""

from __future__ import annotations

import email.utils
import json
import mimetypes
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from cellucid import __version__
from cellucid.serving import channel
from cellucid.serving.cors import origin_allowed
from cellucid.serving.events import MAX_EVENT_BYTES, EventRefused
from cellucid.serving.httpd import HTTPServer
from cellucid.serving.inventory import IntegrityError
from cellucid.serving.offline import offline_page
from cellucid.serving.paths import (
    Forbidden,
    has_overlong_segment,
    request_path,
    resolve_inside,
)
from cellucid.serving.viewer import ViewerUnavailable

CONTENT_TYPES = {
    ".gz": "application/octet-stream",  # opaque: the viewer gunzips .gz files itself
    ".bin": "application/octet-stream",
    ".json": "application/json",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".wasm": "application/wasm",
}
COPY_BYTES = 1 << 16
#: the folders of an export (both layouts); no viewer build has files there
EXPORT_FOLDERS = frozenset({"obs", "var", "connectivity", "vectors"})
MAX_TARGET = 2048  # longer request targets get 414 (no export path comes near it)


def content_type(path: Path) -> str:
    return (
        CONTENT_TYPES.get(path.suffix)
        or mimetypes.guess_type(path.name)[0]
        or ("application/octet-stream")
    )


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) of a single ``bytes=`` range, or None if unsatisfiable/invalid.

    Multi-range requests are not handled here: the caller answers them with the whole file.
    """
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes":
        return None
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            length = int(last)
            if length <= 0:
                return None
            return max(0, size - length), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)


def could_be_viewer_path(url_path: str) -> bool:
    """Whether a path not in the data could name a viewer file (asked only while the
    viewer's file list is unknown, offline): not one with an empty or dot segment, nor one
    under an export's own folders, which hold data only."""
    segments = url_path.split("/")[1:]
    if any(s in ("", ".", "..") for s in segments):
        return False
    return segments[0] not in EXPORT_FOLDERS


class CellucidHandler(BaseHTTPRequestHandler):
    """Answers GET, HEAD and OPTIONS; never serves anything outside the data folder."""

    server: HTTPServer
    protocol_version = "HTTP/1.1"
    server_version = f"cellucid/{__version__}"

    # -- plumbing ----------------------------------------------------------------------
    def setup(self) -> None:
        # a socket timeout: an idle or half-sent connection is closed instead of holding
        # a thread forever
        self.timeout = self.server.app.idle_timeout
        super().setup()

    def _refused(self) -> bool:
        """Answer malformed, over-long and foreign-Host requests; True when answered."""
        if not self.path.startswith("/"):
            self._send_error(HTTPStatus.BAD_REQUEST, "request target must start with /")
        elif len(self.path) > MAX_TARGET:
            self._send_error(HTTPStatus.REQUEST_URI_TOO_LONG, "request target too long")
        elif not self.server.app.host_allowed(self.headers.get("Host")):
            self._send_error(
                HTTPStatus.FORBIDDEN,
                "Host header not allowed (add it with --allowed-host if it is yours)",
            )
        else:
            return False
        return True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        if self.server.app.verbose:
            super().log_message(format, *args)

    def _cors_headers(self) -> None:
        origin = self.headers.get("Origin")
        if origin_allowed(origin):
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header(
                "Access-Control-Expose-Headers",
                "Accept-Ranges, Content-Length, Content-Range, ETag",
            )
        self.send_header("Vary", "Origin")

    def _send_bytes(self, status: int, body: bytes, kind: str, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self._cors_headers()
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, document: Any, status: int = 200) -> None:
        self._send_bytes(status, json.dumps(document).encode(), "application/json")

    def _send_error(self, status: int, message: str) -> None:
        self._send_json({"error": message, "status": status}, status)

    # -- methods -----------------------------------------------------------------------
    def do_OPTIONS(self) -> None:  # noqa: N802 - http.server naming
        if self._refused():
            return
        self.send_response(HTTPStatus.NO_CONTENT)
        self._cors_headers()
        if origin_allowed(self.headers.get("Origin")):
            self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
            requested = self.headers.get("Access-Control-Request-Headers")
            self.send_header("Access-Control-Allow-Headers", requested or "Range, Content-Type")
            self.send_header("Access-Control-Max-Age", "600")
            if self.headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
                self.send_header("Access-Control-Allow-Private-Network", "true")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def do_POST(self) -> None:  # noqa: N802
        """Only ``/_cellucid/events``, from the notebook viewer holding the token."""
        if self._refused():
            return
        if request_path(self.path) != "/_cellucid/events":
            return self._send_error(HTTPStatus.METHOD_NOT_ALLOWED, "only events are posted")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return self._send_error(HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
        if not 0 <= length <= MAX_EVENT_BYTES:
            self.close_connection = True
            return self._send_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "event too large")
        body = self.rfile.read(length)
        try:
            self.server.app.events.accept(body)
        except EventRefused as refused:
            return self._send_error(refused.status, str(refused))
        # the pinned viewer requires exactly this answer
        return self._send_json({"status": "ok", "delivered": True})

    def do_GET(self) -> None:  # noqa: N802
        if self._refused():
            return
        app = self.server.app
        path = request_path(self.path)
        if self.answer_channel(path):
            return
        if path == "/_cellucid/health":
            return self._send_json({"status": "ok", "type": "exported", "version": __version__})
        if path == "/_cellucid/info":
            return self._send_json(
                # the pinned builds accept exactly "standalone" for an export server
                {"version": __version__, "host": app.host, "port": app.port, "mode": "standalone"}
            )
        if path == "/_cellucid/datasets":
            return self._send_json({"datasets": [d.as_json() for d in app.datasets()]})
        if path.startswith("/_cellucid/"):
            return self._send_error(HTTPStatus.NOT_FOUND, f"not found: {path}")
        try:
            file = resolve_inside(app.data_dir, path)
        except Forbidden:
            return self._send_error(HTTPStatus.FORBIDDEN, "path outside the served folder")
        if file is None and app.pending is not None:
            file = self._wait_for_pending(app, path)
        if file is not None:
            return self._send_file(file)
        if has_overlong_segment(path):
            return self._send_error(HTTPStatus.NOT_FOUND, "no file has so long a name")
        return self._send_viewer(path)

    # -- the notebook channel (serving/channel/) ---------------------------------------
    def answer_channel(self, path: str) -> bool:
        """Answer ``/_cellucid/protocol`` and ``/_cellucid/ws``; False for any other path.

        Called from ``do_GET`` after the Host check. The channel's thread is this
        request's: it returns when the channel ends.
        """
        if path == f"/{channel.PROTOCOL_ROUTE}":
            self._send_json(channel.capability_document())
            return True
        if path != f"/{channel.CHANNEL_ROUTE}":
            return False
        app = self.server.app
        allowed = {host.strip("[]") for host, _ in getattr(app, "allowed_hosts", ())}
        channel.open_channel(self, getattr(app, "channel", None), allowed)
        return True

    def refuse_channel(self, status: int, message: str, headers: dict[str, str]) -> None:
        """Refuse a channel opening before upgrading (the connection closes after it)."""
        self.close_connection = True
        self._send_bytes(
            status,
            json.dumps({"error": message, "status": status}).encode(),
            "application/json",
            headers,
        )

    # -- files -------------------------------------------------------------------------
    def _wait_for_pending(self, app: Any, path: str) -> Path | None:
        """A file the running export lists but has not written yet: wait for it (bounded)."""
        relative = path.lstrip("/")
        if app.pending.wait_for(relative, app.pending_timeout):
            return resolve_inside(app.data_dir, path)
        return None

    def _not_modified(self, etag: str, mtime: float | None = None) -> bool:
        """Answer 304 when the client holds this version (If-None-Match, else
        If-Modified-Since); True when answered."""
        match = self.headers.get("If-None-Match")
        since = self.headers.get("If-Modified-Since")
        if match is not None:
            tags = {tag.strip().removeprefix("W/") for tag in match.split(",")}
            fresh = etag in tags or "*" in tags
        elif since and mtime is not None and "Range" not in self.headers:
            try:
                fresh = int(mtime) <= email.utils.parsedate_to_datetime(since).timestamp()
            except (TypeError, ValueError):
                fresh = False
        else:
            fresh = False
        if fresh:
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.send_header("ETag", etag)
            if mtime is not None:
                self.send_header("Last-Modified", email.utils.formatdate(mtime, usegmt=True))
            self._cors_headers()
            self.end_headers()
        return fresh

    def _wanted_range(self, size: int, *versions: str) -> tuple[int, int, bool] | None:
        """(first, last, partial) to send, or None for 416.

        The whole body when there is no Range, a range unit other than bytes (RFC 9110
        says to ignore it), several ranges, or an If-Range naming none of ``versions``
        (the ETag and Last-Modified of what is sent).
        """
        header = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if (
            header is None
            or header.partition("=")[0].strip().lower() != "bytes"
            or "," in header
            or (if_range is not None and if_range.strip() not in versions)
        ):
            return 0, size - 1, False
        wanted = parse_range(header, size)
        return None if wanted is None else (*wanted, True)

    def _send_file(self, file: Path, kind: str | None = None) -> None:
        stat = file.stat()
        size = stat.st_size
        # a new version of a file (rewritten or replaced) gets a new tag
        etag = f'"{stat.st_ino:x}-{size:x}-{stat.st_mtime_ns:x}"'
        modified = email.utils.formatdate(stat.st_mtime, usegmt=True)
        if self._not_modified(etag, stat.st_mtime):
            return
        wanted = self._wanted_range(size, etag, modified)
        if wanted is None:
            return self._send_bytes(
                HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
                b"",
                "text/plain",
                {"Content-Range": f"bytes */{size}"},
            )
        first, last, partial = wanted
        headers = {"Accept-Ranges": "bytes", "ETag": etag, "Last-Modified": modified}
        if partial:
            headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        length = max(0, last - first + 1)
        self.send_response(HTTPStatus.PARTIAL_CONTENT if partial else HTTPStatus.OK)
        self.send_header("Content-Type", kind or content_type(file))
        self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-cache")
        for name, value in headers.items():
            self.send_header(name, value)
        self._cors_headers()
        self.end_headers()
        if self.command == "HEAD" or length == 0:
            return
        with open(file, "rb") as handle:
            handle.seek(first)
            remaining = length
            while remaining:
                chunk = handle.read(min(COPY_BYTES, remaining))
                if not chunk:
                    break
                self.wfile.write(chunk)
                remaining -= len(chunk)

    def _send_viewer(self, path: str) -> None:
        viewer = self.server.app.viewer
        page = path in ("/", "/index.html")
        try:
            asset = viewer.asset(path)
            if asset is None:
                # only inventory paths are ever fetched upstream
                return self._send_error(HTTPStatus.NOT_FOUND, f"not found: {path}")
            file = viewer.file(asset)
        except (ViewerUnavailable, IntegrityError) as error:
            if page:
                return self._send_bytes(
                    HTTPStatus.SERVICE_UNAVAILABLE,
                    offline_page(viewer).encode(),
                    "text/html; charset=utf-8",
                )
            if isinstance(error, IntegrityError):
                return self._send_error(HTTPStatus.BAD_GATEWAY, f"viewer file unavailable: {error}")
            # the target as sent: http.server folds a leading "//" into "/"
            sent = self.requestline.split(" ")[1] if self.requestline.count(" ") >= 2 else path
            if not could_be_viewer_path(path) or not could_be_viewer_path(request_path(sent)):
                return self._send_error(HTTPStatus.NOT_FOUND, f"not found: {path}")
            return self._send_error(
                HTTPStatus.SERVICE_UNAVAILABLE, f"viewer file unavailable: {error}"
            )
        # the inventory's type: the raw host sends text/plain with nosniff for everything
        return self._send_file(file, asset.content_type)
