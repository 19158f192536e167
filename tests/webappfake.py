"""A small synthetic Cellucid web app and a 127.0.0.1 stand-in for the site that publishes it."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

INVENTORY = "cellucid-web-assets.json"
TYPES = {
    "html": "text/html; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "json": "application/json; charset=utf-8",
    "svg": "image/svg+xml",
    "wasm": "application/wasm",
}


def page(build_id: str, meta: str | None = None) -> bytes:
    """An index.html naming ``build_id`` (``meta`` replaces the build-id element)."""
    element = f'<meta name="cellucid-web-build-id" content="{build_id}">' if meta is None else meta
    return (
        f'<!doctype html><html><head><meta charset="utf-8">{element}'
        '<link rel="stylesheet" href="assets/css/app.css"></head>'
        f'<body>app {build_id}<script type="module" src="assets/js/main.js"></script>'
        "</body></html>"
    ).encode()


def app_files(build_id: str) -> dict[str, bytes]:
    """The app's files (inventory excluded), different for each build id."""
    return {
        "index.html": page(build_id),
        "assets/js/main.js": f"import './util.js'; console.log('{build_id}');\n".encode() * 40,
        "assets/js/util.js": b"export const answer = 42;\n",
        "assets/css/app.css": b"body { margin: 0 }\n",
        "assets/icons/logo.svg": b'<svg xmlns="http://www.w3.org/2000/svg"/>\n',
        "site.webmanifest.json": b'{"name": "Cellucid"}\n',
        "assets/wasm/core.wasm": bytes(range(256)) * 8,
    }


def inventory_bytes(files: dict[str, bytes], build_id: str) -> bytes:
    assets = [
        {
            "path": path,
            "sha256": hashlib.sha256(body).hexdigest(),
            "bytes": len(body),
            "content_type": TYPES[path.rsplit(".", 1)[1]],
        }
        for path, body in sorted(files.items())
    ]
    return json.dumps({"version": 1, "build_id": build_id, "assets": assets}, indent=2).encode()


def build(build_id: str, files: dict[str, bytes] | None = None) -> dict[str, bytes]:
    """A whole published build: its files and its inventory."""
    files = dict(files if files is not None else app_files(build_id))
    files[INVENTORY] = inventory_bytes(files, build_id)
    return files


class AppSite:
    """Serves one build at ``/<path>`` with each file's own type, and logs every request.

    ``files`` can be replaced at any time (a new build deployed); ``tampered`` maps a path to
    bytes served instead of the published file, ``types`` a path to the Content-Type it is
    answered with, ``redirects`` a path to the address it is redirected to; ``delay``
    seconds before each answer widen the window of concurrent downloads.
    """

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.tampered: dict[str, bytes] = {}
        self.types: dict[str, str] = {}
        self.redirects: dict[str, str] = {}
        self.delay = 0.0
        self.requests: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                site.requests.append(self.path)
                path = self.path.lstrip("/")
                if site.delay:
                    threading.Event().wait(site.delay)
                if path in site.redirects:
                    self.send_response(302)
                    self.send_header("Location", site.redirects[path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = site.tampered.get(path, site.files.get(path))
                kind = site.types.get(path) or TYPES.get(path.rsplit(".", 1)[-1], "text/plain")
                if body is None:
                    body, kind = b"<html>not found</html>", "text/html"
                self.send_response(200 if path in site.files else 404)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> AppSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
