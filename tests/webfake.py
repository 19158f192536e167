"""A fake pinned viewer build and a 127.0.0.1 stand-in for raw.githubusercontent.com."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cellucid.serving.builds import ViewerBuild

BUILD_ID = "test-build-1"


def fake_files(tag: str) -> dict[str, bytes]:
    """A tiny viewer: index.html loading one script and one stylesheet by relative paths."""
    return {
        "index.html": (
            f'<!doctype html><html><head><meta name="cellucid-web-build-id" content="{BUILD_ID}">'
            f'<link rel="stylesheet" href="assets/css/app.css"></head>'
            f'<body>viewer {tag}<script type="module" src="assets/js/app.js"></script>'
            "</body></html>"
        ).encode(),
        "assets/js/app.js": f"console.log('viewer {tag}');\n".encode() * 50,
        "assets/css/app.css": b"body { margin: 0 }\n",
    }


CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


def inventory_bytes(files: dict[str, bytes]) -> bytes:
    assets = [
        {
            "path": path,
            "sha256": hashlib.sha256(body).hexdigest(),
            "bytes": len(body),
            "content_type": CONTENT_TYPES["." + path.rsplit(".", 1)[1]],
        }
        for path, body in sorted(files.items())
    ]
    document = {"version": 1, "build_id": BUILD_ID, "assets": assets}
    return json.dumps(document, indent=2).encode()


def fake_build(layout: str, commit: str) -> tuple[ViewerBuild, dict[str, bytes]]:
    """A build pinned like the real ones, and its files (inventory included)."""
    files = fake_files(f"{layout}-{commit[:6]}")
    files["cellucid-web-assets.json"] = inventory_bytes(files)
    sha = hashlib.sha256(files["cellucid-web-assets.json"]).hexdigest()
    return ViewerBuild(layout, commit, sha, BUILD_ID), files


class RawHost:
    """Serves ``/<commit>/<path>`` like the raw host (text/plain, nosniff) and logs requests.

    ``tampered`` maps ``<commit>/<path>`` to bytes served instead of the real file.
    """

    def __init__(self, builds: dict[str, dict[str, bytes]]) -> None:
        self.files = {f"/{c}/{p}": body for c, files in builds.items() for p, body in files.items()}
        self.requests: list[str] = []
        self.tampered: dict[str, bytes] = {}
        self.delay = 0.0
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                host.requests.append(self.path)
                if host.delay:
                    threading.Event().wait(host.delay)
                body = host.tampered.get(self.path.lstrip("/"), host.files.get(self.path))
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("X-Content-Type-Options", "nosniff")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> RawHost:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def hits(self, suffix: str) -> int:
        return sum(1 for r in self.requests if r.endswith(suffix))


KEY_COMMIT = "a" * 40
INDEX_COMMIT = "b" * 40


def closed_port_url() -> str:
    """An address on loopback where nothing listens: fetches fail at once, as offline."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def pin_fake_builds(monkeypatch, tmp_path, source: str | None = None):
    """Pin a fake key and index build; returns (builds by layout, files by commit).

    Sets ``CELLUCID_WEB_SOURCE_URL`` (to ``source``, default a closed port) and
    ``CELLUCID_WEB_CACHE_DIR`` (to ``tmp_path / "web-cache"``).
    """
    from cellucid.serving import builds

    key, key_files = fake_build("key", KEY_COMMIT)
    index, index_files = fake_build("index", INDEX_COMMIT)
    monkeypatch.setitem(builds.BUILDS, "key", key)
    monkeypatch.setitem(builds.BUILDS, "index", index)
    monkeypatch.setenv("CELLUCID_WEB_SOURCE_URL", source or closed_port_url())
    monkeypatch.setenv("CELLUCID_WEB_CACHE_DIR", str(tmp_path / "web-cache"))
    return {"key": key, "index": index}, {KEY_COMMIT: key_files, INDEX_COMMIT: index_files}


def make_index_layout(export_dir):
    """Turn a key-layout export's manifests into index-layout patterns (detect_layout reads
    only the patterns; the payload files are irrelevant to which viewer build is served)."""
    for name in ("obs_manifest.json", "var_manifest.json"):
        path = export_dir / name
        if path.is_file():
            path.write_text(path.read_text().replace("{key}", "{index}"))
    return export_dir
