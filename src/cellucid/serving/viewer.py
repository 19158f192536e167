"""The viewer's web UI, fetched from the hosted viewer and cached on disk.

Serving the UI from the data server's own origin avoids mixed-content and CORS problems
(an https page cannot read http://127.0.0.1). Files are fetched on first request from
``CELLUCID_WEB_URL`` (default https://www.cellucid.com) and kept in
``CELLUCID_WEB_CACHE_DIR`` (default ``~/.cache/cellucid/web``), so the viewer keeps
working offline once it has been loaded.
"""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request
from pathlib import Path

from cellucid.serving.paths import Forbidden, resolve_inside

DEFAULT_WEB_URL = "https://www.cellucid.com"
FETCH_TIMEOUT = 5.0


def web_url() -> str:
    return os.environ.get("CELLUCID_WEB_URL", DEFAULT_WEB_URL).rstrip("/")


def cache_dir() -> Path:
    configured = os.environ.get("CELLUCID_WEB_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cellucid" / "web"


class ViewerAssets:
    """Viewer files by URL path: from the disk cache, else fetched and cached."""

    def __init__(self, upstream: str | None = None, folder: Path | None = None) -> None:
        self.upstream = (upstream or web_url()).rstrip("/")
        self.folder = folder or cache_dir()
        self._lock = threading.Lock()
        self.last_error: str | None = None

    def get(self, url_path: str) -> Path | None:
        """The cached file for ``url_path`` (``/`` is ``/index.html``), or None."""
        if url_path in ("", "/"):
            url_path = "/index.html"
        try:
            cached = resolve_inside(self.folder, url_path) if self.folder.is_dir() else None
        except Forbidden:
            return None
        if cached is not None:
            return cached
        return self._fetch(url_path)

    def _fetch(self, url_path: str) -> Path | None:
        target = self.folder / url_path.lstrip("/")
        try:
            with urllib.request.urlopen(self.upstream + url_path, timeout=FETCH_TIMEOUT) as reply:
                body = reply.read()
        except (urllib.error.URLError, OSError, ValueError) as error:
            self.last_error = f"{self.upstream}{url_path}: {getattr(error, 'reason', error)}"
            return None
        with self._lock:
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = target.with_name(f".{target.name}.part-{os.getpid()}-{threading.get_ident()}")
            temp.write_bytes(body)
            os.replace(temp, target)
        return target


UNAVAILABLE_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Cellucid viewer unavailable</title></head>
<body style="font-family: sans-serif; max-width: 44em; margin: 3em auto">
<h1>The Cellucid viewer could not be loaded</h1>
<p>This server serves your data, and the viewer's web page from a local copy of
<code>{upstream}</code>. There is no local copy yet and the viewer could not be downloaded
({error}).</p>
<p>To fix it, do one of:</p>
<ul>
<li>connect this machine to the internet once and reload this page (the viewer is then
cached in <code>{cache}</code> and works offline);</li>
<li>set <code>CELLUCID_WEB_URL</code> to a reachable copy of the viewer and restart
<code>cellucid serve</code>;</li>
<li>open the hosted viewer in your browser with this server as data source:
<code>{upstream}/?remote={origin}</code>.</li>
</ul>
<p>The data endpoints work regardless: <a href="/_cellucid/datasets">/_cellucid/datasets</a>.</p>
</body></html>
"""
