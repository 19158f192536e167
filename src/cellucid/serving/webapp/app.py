"""Today's Cellucid web app, served from the web cache: one complete, verified build.

The pinned builds are fetched file by file and pinned by commit; this app is not pinned: the
site decides the build, and its inventory only proves that the files are the ones it
published. So the whole build is fetched into a staging folder, every file checked against
the inventory (sha256 and size) and the page against the build id, and only then activated
(see :mod:`cellucid.serving.webapp.entries`). A build in the cache is used without asking the
site (``refresh=True`` or ``cellucid viewer download`` asks); with no build of this source
cached, the site is asked, and when it cannot be reached the newest complete cached build of
any source is served.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from cellucid.serving.inventory import Asset, IntegrityError, Inventory, sha256_hex
from cellucid.serving.viewer import ViewerUnavailable
from cellucid.serving.webapp import entries
from cellucid.serving.webapp.entries import Entry
from cellucid.serving.webapp.fetch import FETCH_TIMEOUT, download_into, fetch, file_url
from cellucid.serving.webapp.inventory import INVENTORY_NAME, parse_app_inventory
from cellucid.serving.webapp.source import app_source_url
from cellucid.serving.webcache import get_web_cache_dir

log = logging.getLogger("cellucid.serving.webapp")


class CurrentApp:
    """The current Cellucid web app (0.9.5 and later), by URL path, for the request handler.

    Parameters
    ----------
    source_url
        Where the app is published; default ``$CELLUCID_WEB_APP_URL``, else
        https://www.cellucid.com. Plain http only to a loopback host; a ``file://`` URL or a
        folder path names a local copy. Checked here, before anything is fetched or written.
    cache_root
        The web cache folder; default :func:`cellucid.serving.webcache.get_web_cache_dir`.
    refresh
        Ask the site for its build on first use even when a build of this source is cached.
    timeout
        Seconds per request to the site.

    Raises
    ------
    ValueError
        When the source URL is refused (see :func:`~cellucid.serving.webapp.app_source_url`).
    """

    kind = "current"

    def __init__(
        self,
        source_url: str | None = None,
        cache_root: Path | None = None,
        refresh: bool = False,
        timeout: float = FETCH_TIMEOUT,
    ) -> None:
        self.source = app_source_url(source_url)
        self.cache_root = Path(cache_root) if cache_root is not None else get_web_cache_dir()
        self.refresh = refresh
        self.timeout = timeout
        self.last_error: str | None = None
        #: True when a cached build is served because the source could not be reached
        self.fell_back = False
        self._entry: Entry | None = None
        self._site: tuple[bytes, Inventory] | None = None
        self._lock = threading.RLock()

    @property
    def entries_folder(self) -> Path:
        """``<web cache>/current``: the folder to copy to an offline machine."""
        return entries.entries_root(self.cache_root)

    @property
    def folder(self) -> Path:
        """The served build's folder once chosen, else :attr:`entries_folder`."""
        return self._entry.folder if self._entry is not None else self.entries_folder

    @property
    def build_id(self) -> str | None:
        """The served build's id, once chosen."""
        return self._entry.build_id if self._entry is not None else None

    # -- choosing the build ------------------------------------------------------------
    def ensure(self) -> Entry:
        """The build to serve: cached, else fetched, verified and activated.

        Raises
        ------
        ViewerUnavailable
            When no build is cached and the site cannot be reached (:attr:`last_error`).
        IntegrityError
            When the site's inventory or a file fails its check (nothing is activated).
        """
        with self._lock:
            if self._entry is not None and self._entry.folder.is_dir():
                return self._entry
            self._entry = None
            cached = None if self.refresh else self._newest_intact(this_source=True)
            if cached is None:
                try:
                    cached = self._install_checked()
                except ViewerUnavailable:
                    cached = self._newest_intact(this_source=False)
                    if cached is None:
                        raise
                    self.fell_back = True
                    log.warning(
                        "the Cellucid web app could not be fetched (%s); serving build %s "
                        "cached from %s",
                        self.last_error,
                        cached.build_id,
                        cached.source_url,
                    )
            self._entry = cached
            return cached

    def _newest_intact(self, this_source: bool) -> Entry | None:
        for entry in entries.list_entries(self.cache_root):
            if this_source and entry.source_url != self.source:
                continue
            try:
                entries.verify_entry(entry)
            except IntegrityError as error:
                log.error("cached web app build %s is damaged (%s); not used", entry.folder, error)
                continue
            return entry
        return None

    def _install_checked(self) -> Entry:
        entry, failures = self._install()
        if entry is not None:
            return entry
        path, error = failures[0]
        self.last_error = f"{path}: {error}" if path not in str(error) else str(error)
        if any(isinstance(e, IntegrityError) for _, e in failures):
            raise IntegrityError(f"the web app build was refused: {self.last_error}")
        raise ViewerUnavailable(self.last_error)

    # -- talking to the site -----------------------------------------------------------
    def site_inventory(self) -> Inventory:
        """Fetch and read the site's ``cellucid-web-assets.json`` (kept for the download).

        Raises
        ------
        ViewerUnavailable
            When the site does not answer.
        IntegrityError
            When the document is not a valid inventory.
        """
        url = file_url(self.source, INVENTORY_NAME)
        try:
            body, _ = fetch(url, self.timeout)
        except ViewerUnavailable as error:
            self.last_error = str(error)
            raise
        try:
            inventory = parse_app_inventory(body)
        except IntegrityError as error:
            self.last_error = f"{url}: {error}"
            log.error("the web app's inventory %s was refused: %s", url, error)
            raise IntegrityError(self.last_error) from error
        self._site = (body, inventory)
        return inventory

    def _install(
        self, progress: Callable[[int], None] | None = None, workers: int = 8
    ) -> tuple[Entry | None, list[tuple[str, Exception]]]:
        """The site's build as an activated entry (reused when already cached), or the files
        that failed."""
        if self._site is None:
            self.site_inventory()
        assert self._site is not None
        body, inventory = self._site
        name = entries.entry_name(inventory.build_id, sha256_hex(body))
        existing = entries.read_entry(self.entries_folder / name)
        if existing is not None and entries.is_intact(existing):
            if progress is not None:
                for asset in inventory.assets.values():
                    progress(asset.bytes)
            return self._retire_others(existing), []
        try:
            activated, failures = self._stage_and_activate(body, inventory, progress, workers)
        except OSError as error:
            # a full disk or a read-only cache: say which folder (a cached build may still do)
            self.last_error = f"cannot write the web cache folder {self.entries_folder}: {error}"
            raise ViewerUnavailable(self.last_error) from error
        if activated is None:
            return None, failures
        log.info("web app build %s activated in %s", activated.build_id, activated.folder)
        return self._retire_others(activated), []

    def _stage_and_activate(
        self,
        body: bytes,
        inventory: Inventory,
        progress: Callable[[int], None] | None,
        workers: int,
    ) -> tuple[Entry | None, list[tuple[str, Exception]]]:
        stage = entries.new_stage(self.cache_root)
        try:
            failures = download_into(stage, self.source, inventory, progress, workers, self.timeout)
            if failures:
                return None, failures
            entries.write_record(stage, body, inventory, self.source)
            fresh = entries.read_entry(stage)
            if fresh is None:
                raise IntegrityError(f"the staged build in {stage} could not be read back")
            entries.verify_entry(fresh)  # what is on disk, not only what was received
            return entries.activate(stage), []
        finally:
            if stage.exists():
                entries.discard(stage)

    def _retire_others(self, kept: Entry) -> Entry:
        # the site replaced its build: older builds of the same source go, whole
        for entry in entries.list_entries(self.cache_root):
            if entry.source_url == self.source and entry.folder != kept.folder:
                entries.retire(entry.folder)
        return kept

    # -- the request handler's interface -----------------------------------------------
    def inventory(self) -> Inventory:
        """The served build's inventory (see :meth:`ensure` for the errors)."""
        return self.ensure().inventory

    def asset(self, url_path: str) -> Asset | None:
        """The inventory entry that ``url_path`` names (``/`` is ``index.html``), or None.

        The inventory and the cache's own record are never assets: they are not served.
        """
        path = url_path.lstrip("/") or "index.html"
        return self.ensure().inventory.assets.get(path)

    def file(self, asset: Asset) -> Path:
        """The verified file of ``asset`` in the served build.

        Raises
        ------
        ViewerUnavailable
            When the build was replaced by another process and no longer holds this file.
        """
        entry = self.ensure()
        target = entry.folder / asset.path
        if entry.inventory.assets.get(asset.path) == asset and target.is_file():
            return target
        # another process retired the build under us: serve the file from the new one
        with self._lock:
            if self._entry is entry:
                self._entry = None
        entry = self.ensure()
        target = entry.folder / asset.path
        if entry.inventory.assets.get(asset.path) == asset and target.is_file():
            return target
        raise ViewerUnavailable(
            f"{asset.path} is not in the cached web app any more (now build "
            f"{entry.build_id}): reload the page"
        )

    # -- whole build, status -----------------------------------------------------------
    def download_all(
        self, progress: Callable[[int], None] | None = None, workers: int = 8
    ) -> list[tuple[str, str]]:
        """Ask the site for its build and cache it whole (a cached copy is verified instead).

        Parameters
        ----------
        progress
            Called with the byte count of each file once it is checked.
        workers
            Parallel downloads.

        Returns
        -------
        list of (path, reason)
            The files that failed; empty when the site's build is cached and served.

        Raises
        ------
        ViewerUnavailable
            When the site's inventory cannot be fetched.
        IntegrityError
            When the inventory is not valid.
        """
        with self._lock:
            entry, failures = self._install(progress, workers)
            if entry is not None:
                self._entry = entry
                self.fell_back = False
            return [(path, str(error)) for path, error in failures]

    def cached_state(self) -> tuple[int, int, int, int] | None:
        """(files cached, files in build, bytes cached, bytes in build) of the build that
        would be served offline (this source's newest, else the newest), without any network
        request or hashing; None when no build is cached."""
        found = entries.list_entries(self.cache_root)
        mine = [e for e in found if e.source_url == self.source] or found
        if not mine:
            return None
        entry = mine[0]
        files, done = entries.files_present(entry)
        return files, len(entry.inventory.assets), done, entry.inventory.total_bytes

    def cached_builds(self) -> list[Entry]:
        """Every build of the current app in the cache, newest first (no network)."""
        return entries.list_entries(self.cache_root)
