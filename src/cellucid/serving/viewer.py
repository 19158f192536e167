"""The viewer's web UI: files of one pinned build, fetched on first request, verified, cached.

Files come from ``<source>/<commit>/<path>`` (see :mod:`cellucid.serving.builds`). The
inventory is fetched first and checked against its pinned sha256; afterwards only paths it
lists are fetched, each checked against its sha256 and size before it is published to the
cache. Nothing else is ever requested upstream.
"""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cellucid.serving.builds import INVENTORY_NAME, ViewerBuild, web_source_url
from cellucid.serving.inventory import (
    Asset,
    IntegrityError,
    Inventory,
    check_asset,
    parse_inventory,
)
from cellucid.serving.webcache import get_web_cache_dir, publish

FETCH_TIMEOUT = 10.0
log = logging.getLogger("cellucid.serving.viewer")


class ViewerUnavailable(Exception):
    """The build is neither cached nor downloadable right now (offline, host down)."""


class ViewerAssets:
    """Files of one pinned viewer build, by URL path.

    Parameters
    ----------
    build
        The pinned build to serve.
    source
        Base URL builds are fetched from; default ``$CELLUCID_WEB_SOURCE_URL`` or raw GitHub.
    cache_root
        Cache folder; default :func:`cellucid.serving.webcache.get_web_cache_dir`.
    """

    def __init__(
        self, build: ViewerBuild, source: str | None = None, cache_root: Path | None = None
    ) -> None:
        self.build = build
        self.source = web_source_url(source)
        self.cache_root = Path(cache_root) if cache_root is not None else get_web_cache_dir()
        self.last_error: str | None = None
        self._inventory: Inventory | None = None
        self._lock = threading.Lock()
        self._path_locks: dict[str, threading.Lock] = {}
        self._verified: set[str] = set()

    @property
    def folder(self) -> Path:
        """This build's cache folder, ``<cache dir>/<commit>``."""
        return self.cache_root / self.build.commit

    def upstream_url(self, path: str) -> str:
        return f"{self.source}/{self.build.commit}/{path}"

    # -- fetching ------------------------------------------------------------------------
    def _download(self, path: str) -> bytes:
        url = self.upstream_url(path)
        try:
            with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as reply:
                return reply.read()
        except (urllib.error.URLError, OSError, ValueError) as error:
            self.last_error = f"{url}: {getattr(error, 'reason', None) or error}"
            raise ViewerUnavailable(self.last_error) from error

    def _lock_for(self, path: str) -> threading.Lock:
        with self._lock:
            return self._path_locks.setdefault(path, threading.Lock())

    def inventory(self) -> Inventory:
        """The build's verified inventory, from the cache or fetched (and then cached).

        Raises
        ------
        ViewerUnavailable
            When it is not cached and cannot be fetched.
        IntegrityError
            When the fetched inventory does not hash to the pinned value.
        """
        with self._lock_for(INVENTORY_NAME):
            if self._inventory is not None:
                return self._inventory
            cached = self.folder / INVENTORY_NAME
            if cached.is_file():
                try:
                    self._inventory = parse_inventory(
                        cached.read_bytes(), self.build.inventory_sha256
                    )
                    return self._inventory
                except IntegrityError as error:
                    log.error(
                        "cached viewer inventory %s is not the pinned one (%s); fetching it again",
                        cached,
                        error,
                    )
            body = self._download(INVENTORY_NAME)
            try:
                inventory = parse_inventory(body, self.build.inventory_sha256)
            except IntegrityError as error:
                self.last_error = f"{self.upstream_url(INVENTORY_NAME)}: {error}"
                log.error(
                    "viewer file %s failed its check (%s); not cached, not served",
                    self.upstream_url(INVENTORY_NAME),
                    error,
                )
                raise
            publish(cached, body)
            self._inventory = inventory
            return inventory

    def asset(self, url_path: str) -> Asset | None:
        """The inventory entry that ``url_path`` names (``/`` is ``index.html``), or None."""
        path = url_path.lstrip("/") or "index.html"
        return self.inventory().assets.get(path)

    def file(self, asset: Asset) -> Path:
        """The cached, verified file of ``asset``, fetched and published first if needed.

        Raises
        ------
        ViewerUnavailable
            When it is not cached and cannot be fetched.
        IntegrityError
            When the fetched bytes fail the sha256/size check (logged; nothing is cached).
        """
        target = self.folder / asset.path
        with self._lock_for(asset.path):
            if asset.path in self._verified and target.is_file():
                return target
            if target.is_file():
                # a copied-in or older cache: check it once per process before trusting it
                try:
                    check_asset(asset, target.read_bytes())
                    self._verified.add(asset.path)
                    return target
                except IntegrityError as error:
                    log.error(
                        "cached viewer file %s failed its check (%s); fetching it again",
                        target,
                        error,
                    )
            body = self._download(asset.path)
            try:
                check_asset(asset, body)
            except IntegrityError as error:
                self.last_error = f"{self.upstream_url(asset.path)}: {error}"
                log.error(
                    "viewer file %s (%s) failed its check: %s; not cached, not served",
                    asset.path,
                    self.upstream_url(asset.path),
                    error,
                )
                raise
            publish(target, body)
            self._verified.add(asset.path)
            return target

    # -- whole build -----------------------------------------------------------------------
    def download_all(
        self, progress: Callable[[int], None] | None = None, workers: int = 8
    ) -> list[tuple[str, str]]:
        """Fetch, verify and cache every file of the build (already cached ones are checked).

        Parameters
        ----------
        progress
            Called with the byte count of each file once it is in the cache.
        workers
            Parallel downloads.

        Returns
        -------
        list of (path, reason)
            The files that could not be cached; empty when the build is complete.
        """
        assets = list(self.inventory().assets.values())
        failures: list[tuple[str, str]] = []

        def one(asset: Asset) -> None:
            try:
                self.file(asset)
            except (ViewerUnavailable, IntegrityError, OSError) as error:
                failures.append((asset.path, str(error)))
            else:
                if progress is not None:
                    progress(asset.bytes)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(one, assets))
        return sorted(failures)

    def cached_state(self) -> tuple[int, int, int, int] | None:
        """(files cached, files in build, bytes cached, bytes in build) without any network
        request, or None when the inventory is not cached. Cached files are counted when
        their size matches (``cellucid viewer download`` verifies hashes)."""
        cached = self.folder / INVENTORY_NAME
        if not cached.is_file():
            return None
        try:
            inventory = parse_inventory(cached.read_bytes(), self.build.inventory_sha256)
        except IntegrityError:
            return None
        files = done = 0
        for asset in inventory.assets.values():
            path = self.folder / asset.path
            if path.is_file() and path.stat().st_size == asset.bytes:
                files += 1
                done += asset.bytes
        return files, len(inventory.assets), done, inventory.total_bytes
