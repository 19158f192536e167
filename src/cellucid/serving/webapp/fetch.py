"""Downloading the current app from its site: the inventory, then every file it lists."""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

from cellucid.serving.inventory import Asset, IntegrityError, Inventory, check_asset
from cellucid.serving.viewer import ViewerUnavailable
from cellucid.serving.webapp.inventory import check_page_build
from cellucid.serving.webapp.source import check_redirect

FETCH_TIMEOUT = 15.0
USER_AGENT = "cellucid-stream (web app cache)"
log = logging.getLogger("cellucid.serving.webapp")


def file_url(source: str, path: str) -> str:
    """The address of ``path`` (an inventory path) under the app's ``source``."""
    return f"{source}/{quote(path, safe='/-._~')}"


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to an address the source rules accept."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201
        check_redirect(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_CheckedRedirects())


def fetch(url: str, timeout: float = FETCH_TIMEOUT) -> tuple[bytes, str]:
    """GET ``url``: (body, media type of the answer).

    Raises
    ------
    ViewerUnavailable
        When the source does not answer 200 with the whole body (offline, host down, 404).
    """
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with _OPENER.open(request, timeout=timeout) as reply:
            status = getattr(reply, "status", None) or 200  # file: URLs have none
            if status != 200:
                raise ViewerUnavailable(f"{url}: HTTP {status}")
            body = reply.read()
            kind = reply.headers.get_content_type()
    except urllib.error.HTTPError as error:
        raise ViewerUnavailable(f"{url}: HTTP {error.code} {error.reason}") from error
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise ViewerUnavailable(f"{url}: {getattr(error, 'reason', None) or error}") from error
    return body, kind


def _fetch_one(source: str, asset: Asset, stage: Path, build_id: str, timeout: float) -> None:
    url = file_url(source, asset.path)
    body, kind = fetch(url, timeout)
    try:
        check_asset(asset, body)
        if asset.path == "index.html":
            check_page_build(body, build_id)
    except IntegrityError as error:
        # an error page has the wrong hash too; its type says so more plainly
        listed = asset.content_type.split(";")[0].strip().lower()
        hint = f" (the site answered {kind}, the inventory says {listed})" if kind != listed else ""
        raise IntegrityError(f"{url}: {error}{hint}") from error
    target = stage / asset.path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)


def download_into(
    stage: Path,
    source: str,
    inventory: Inventory,
    progress: Callable[[int], None] | None = None,
    workers: int = 8,
    timeout: float = FETCH_TIMEOUT,
) -> list[tuple[str, Exception]]:
    """Fetch and check every file of ``inventory`` into ``stage``.

    Parameters
    ----------
    stage
        An empty staging folder; files land at their inventory paths.
    source
        The app's base URL.
    inventory
        The site's inventory.
    progress
        Called with the byte count of each file once it is checked and written.
    workers
        Parallel downloads.
    timeout
        Seconds per request.

    Returns
    -------
    list of (path, error)
        Files that could not be fetched (:class:`ViewerUnavailable`) or failed their check
        (:class:`IntegrityError`); empty when the whole build is in ``stage``. Files not
        yet started when the first failure happens are not fetched.
    """
    failures: list[tuple[str, Exception]] = []
    # the build is activated whole or not at all: after the first failure the rest is moot,
    # and offline every request would wait for its timeout
    stop = threading.Event()

    def one(asset: Asset) -> None:
        if stop.is_set():
            return
        try:
            _fetch_one(source, asset, stage, inventory.build_id, timeout)
        except (ViewerUnavailable, IntegrityError, OSError) as error:
            if isinstance(error, IntegrityError):
                log.error("web app file %s failed its check: %s; not cached", asset.path, error)
            failures.append((asset.path, error))
            stop.set()
        else:
            if progress is not None:
                progress(asset.bytes)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(one, inventory.assets.values()))
    return sorted(failures, key=lambda failure: failure[0])
