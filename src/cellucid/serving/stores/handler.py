"""The request handler of a store server: the routes of upstream 0.9.5's AnnData server.

- ``/_cellucid/anndata/<id>.h5ad`` and ``/_cellucid/anndata/<id>.zarr.zip``: the file as it
  is, read by the web app with byte ranges;
- ``/_cellucid/anndata/<id>.zarr/<key>``: one key of a ``.zarr`` folder (404 for an absent
  key, which a Zarr reader takes as an unwritten chunk; 403 for a key that resolves outside
  the store, so a reader fails rather than reading fill values);
- ``/_cellucid/datasets``, ``/_cellucid/health``, ``/_cellucid/info``, and the notebook
  channel's ``/_cellucid/protocol`` and ``/_cellucid/ws``;
- anything else: the viewer (the current web app) at ``/``.

The Host check, CORS, byte ranges, ETags and the viewer's files are
:class:`~cellucid.serving.handler.CellucidHandler`'s.
"""

from __future__ import annotations

import hashlib
from http import HTTPStatus
from pathlib import Path

from cellucid.serving.handler import CellucidHandler
from cellucid.serving.paths import request_path
from cellucid.serving.stores.discover import ROUTE_PREFIX, ServedStore

STORE_BYTES = "application/octet-stream"  # upstream's type for every byte of a store
ENCODED_SEPARATORS = ("%2f", "%5c")


def canonical_key(text: str) -> str | None:
    """A plain relative Zarr key (``obs/cell_type/codes/0``), or None for anything else:
    empty, absolute, ``.``/``..``/empty segments, backslashes or NUL bytes."""
    if not text or text.startswith("/") or "\\" in text or "\x00" in text:
        return None
    if any(part in ("", ".", "..") for part in text.split("/")):
        return None
    return text


def key_file(store: ServedStore, key: str) -> Path | None:
    """The file of ``key`` inside a ``.zarr`` folder, or None when absent.

    Raises
    ------
    PermissionError
        The key (through a symlink) resolves outside the store.
    """
    try:
        resolved = store.path.joinpath(*key.split("/")).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not resolved.is_relative_to(store.path):
        raise PermissionError(key)
    return resolved if resolved.is_file() else None


class StoreHandler(CellucidHandler):
    """Answers GET, HEAD and OPTIONS for a :class:`~cellucid.serving.stores.StoreServer`."""

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        if self._refused():
            return
        self.close_connection = True
        self._send_error(HTTPStatus.METHOD_NOT_ALLOWED, "this server answers GET and HEAD")

    def do_GET(self) -> None:  # noqa: N802
        if self._refused():
            return
        app = self.server.app
        path = request_path(self.path)
        if self.answer_channel(path):
            return
        if path == "/_cellucid/health":
            return self._send_json(app.health_document())
        if path == "/_cellucid/info":
            return self._send_json(app.info_document())
        if path == "/_cellucid/datasets":
            return self._send_json({"datasets": [s.as_json() for s in app.datasets()]})
        if path.startswith(f"/{ROUTE_PREFIX}"):
            return self._send_store(path[len(ROUTE_PREFIX) + 1 :])
        if path.startswith("/_cellucid/"):
            return self._send_error(HTTPStatus.NOT_FOUND, f"not found: {path}")
        if app.viewer is None:
            return self._send_error(HTTPStatus.NOT_FOUND, f"not found: {path} (no viewer)")
        return self._send_viewer(path)

    def _send_store(self, route: str) -> None:
        raw = self.path.split("?", 1)[0].lower()
        missing = f"not found: /{ROUTE_PREFIX}{route}"
        if any(encoded in raw for encoded in ENCODED_SEPARATORS):
            return self._send_error(HTTPStatus.NOT_FOUND, f"{missing} (encoded separator)")
        name, _, key = route.partition("/")
        store = self.server.app.catalog.by_route(name)
        if store is None or (store.layout == "folder") != ("/" in route):
            # a file is its route exactly; a folder's keys are below its route
            return self._send_error(HTTPStatus.NOT_FOUND, missing)
        if store.layout != "folder":
            return self._send_store_file(store.path, missing)
        if canonical_key(key) is None:
            return self._send_error(HTTPStatus.NOT_FOUND, missing)
        if store.generated is not None and key == store.generated[0]:
            return self._send_generated(store.generated[1])
        try:
            file = key_file(store, key)
        except PermissionError:
            return self._send_error(HTTPStatus.FORBIDDEN, "key resolves outside the store")
        if file is None:
            return self._send_error(HTTPStatus.NOT_FOUND, f"no key {key!r} in the store")
        return self._send_store_file(file, missing)

    def _send_store_file(self, file: Path, missing: str) -> None:
        try:
            self._send_file(file, STORE_BYTES)
        except FileNotFoundError:  # removed since it was listed
            self._send_error(HTTPStatus.NOT_FOUND, missing)

    def _send_generated(self, body: bytes) -> None:
        """Consolidated metadata built in memory, with the same ETag and range rules."""
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        if self._not_modified(etag):
            return
        wanted = self._wanted_range(len(body), etag)
        if wanted is None:
            return self._send_bytes(
                HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
                b"",
                "text/plain",
                {"Content-Range": f"bytes */{len(body)}"},
            )
        first, last, partial = wanted
        headers = {"Accept-Ranges": "bytes", "ETag": etag}
        if partial:
            headers["Content-Range"] = f"bytes {first}-{last}/{len(body)}"
        status = HTTPStatus.PARTIAL_CONTENT if partial else HTTPStatus.OK
        self._send_bytes(status, body[first : last + 1], STORE_BYTES, headers)
