"""The stores one server publishes: one store, or every store directly inside a folder.

In a folder, each child whose name ends in ``.zarr``, ``.zarr.zip`` or ``.h5ad`` (or that is
a folder holding a Zarr root) is read; a child that is not Cellucid-ready is skipped with its
reason (:attr:`Catalog.skipped`), never served under a made-up identity. Ids are unique
(compared without case): a repeated id gets ``-2``, ``-3``, ... in folder order, so every
dataset has its own route. A folder is scanned again when the datasets are listed, so a
store added later appears without a restart; unchanged stores are not read again.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

from cellucid.serving.stores.discover import (
    ServedStore,
    StoreNotReady,
    container_of,
    read_store,
)

MAX_ID = 180


def unique_ids(stores: list[ServedStore]) -> list[ServedStore]:
    """``stores`` with each id repeated (ignoring case) given ``-2``, ``-3``, ... in order."""
    taken: set[str] = set()
    result = []
    for store in stores:
        wanted, number = store.id, 1
        while wanted.lower() in taken:
            number += 1
            suffix = f"-{number}"
            wanted = store.id[: MAX_ID - len(suffix)] + suffix
        taken.add(wanted.lower())
        result.append(store if wanted == store.id else dataclasses.replace(store, id=wanted))
    return result


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_ino, status.st_mtime_ns, status.st_size


class Catalog:
    """The stores under ``path`` (a store, or a folder of stores).

    ``changes`` replaces fields of a single store (``id``, ``name``, ``defaults``: the
    caller's choices over the store's own).

    Raises
    ------
    StoreNotReady
        From the constructor: ``path`` is a store that is not Cellucid-ready, or a folder
        holding none (the message lists why each candidate was skipped).
    """

    def __init__(self, path: str | Path, changes: dict[str, Any] | None = None) -> None:
        self.path = Path(path).expanduser()
        if not self.path.exists():
            raise FileNotFoundError(f"Not found: {path}")
        self.single = container_of(self.path) is not None
        self.skipped: dict[str, str] = {}
        self._read: dict[str, tuple[tuple[int, int, int] | None, ServedStore | str]] = {}
        self._lock = threading.Lock()
        if self.single:
            self._stores = [dataclasses.replace(read_store(self.path), **(changes or {}))]
            return
        if changes:
            raise ValueError(
                f"{path} is a folder of stores: dataset_id, dataset_name and launch defaults "
                "apply to one store only; serve that store on its own"
            )
        if not self.path.is_dir():
            raise StoreNotReady(
                f"{path}: not a Cellucid-ready store (.zarr, .zarr.zip, .h5ad) or a folder of them"
            )
        self._stores = self.refresh()
        if not self._stores:
            reasons = "".join(f"\n  {name}: {why}" for name, why in self.skipped.items())
            raise StoreNotReady(
                f"{path} holds no Cellucid-ready store (.zarr, .zarr.zip or .h5ad with "
                f"uns['cellucid']){':' if reasons else '.'}{reasons}"
            )

    def stores(self) -> list[ServedStore]:
        """The stores as last read (see :meth:`refresh`)."""
        return list(self._stores)

    def refresh(self) -> list[ServedStore]:
        """Scan the folder again (a single store is read once); returns the stores."""
        if self.single:
            return self.stores()
        with self._lock:
            found: list[ServedStore] = []
            skipped: dict[str, str] = {}
            seen = {}
            for child in sorted(self.path.iterdir()):
                if child.name.startswith(".") or container_of(child) is None:
                    continue
                stamp = _stamp(child)
                cached = self._read.get(child.name)
                outcome = cached[1] if cached is not None and cached[0] == stamp else None
                if outcome is None:
                    try:
                        outcome = read_store(child)
                    except StoreNotReady as error:
                        outcome = str(error)
                seen[child.name] = (stamp, outcome)
                if isinstance(outcome, str):
                    skipped[child.name] = outcome
                else:
                    found.append(outcome)
            self._read, self.skipped = seen, skipped
            self._stores = unique_ids(found)
            return list(self._stores)

    def by_route(self, route: str) -> ServedStore | None:
        """The store whose route (``<id>.zarr``, ...) is ``route``; scans again once when
        none is (a store added since the last scan)."""
        for attempt in range(2):
            for store in self._stores:
                if store.route == route:
                    return store
            if attempt == 0 and not self.single:
                self.refresh()
        return None
