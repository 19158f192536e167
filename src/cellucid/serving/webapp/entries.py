"""The current app's builds in the web cache: one folder per build, activated whole.

``<cache dir>/current/<build>/`` holds the site's inventory, a small record
(``.cellucid-app-entry.json``: build id, source, inventory sha256, generation) and every
file at its inventory path, so each folder is itself a complete copy of the app. A build is
downloaded into a private staging folder next to it, verified there, and only then renamed
into place; a folder is removed by renaming it away first. Readers therefore see a whole,
verified build or none: never half of one, never two builds mixed.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from cellucid.serving.inventory import IntegrityError, Inventory, check_asset, sha256_hex
from cellucid.serving.webapp.inventory import INVENTORY_NAME, check_page_build, parse_app_inventory

#: folder of the web cache that holds the current app's builds (pinned builds are <commit>/)
ENTRIES_FOLDER = "current"
RECORD_NAME = ".cellucid-app-entry.json"
STAGING_PREFIX = ".staging-"
RETIRED_PREFIX = ".retired-"
log = logging.getLogger("cellucid.serving.webapp")


@dataclass(frozen=True)
class Entry:
    """One activated build of the current app in the cache."""

    folder: Path
    build_id: str
    source_url: str
    inventory_sha256: str
    generation: int  # higher is newer: one more than the newest entry when it was activated
    inventory: Inventory


def entries_root(cache_root: Path) -> Path:
    """The folder that holds the current app's builds inside the web cache."""
    return cache_root / ENTRIES_FOLDER


def entry_name(build_id: str, inventory_sha256: str) -> str:
    """A portable folder name for a build: its id made file-safe, then its inventory hash
    (two inventories claiming one build id never share a folder)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", build_id)[:80].strip("._") or "build"
    return f"{safe}-{inventory_sha256[:16]}"


def read_entry(folder: Path) -> Entry | None:
    """The entry in ``folder`` from its record and inventory, or None when either is missing,
    unreadable or inconsistent (no asset is read)."""
    try:
        record = json.loads((folder / RECORD_NAME).read_text(encoding="utf-8"))
        body = (folder / INVENTORY_NAME).read_bytes()
        inventory = parse_app_inventory(body)
        if (
            record.get("version") != 1
            or record.get("inventory_sha256") != sha256_hex(body)
            or record.get("build_id") != inventory.build_id
        ):
            return None
        return Entry(
            folder,
            inventory.build_id,
            str(record["source_url"]),
            record["inventory_sha256"],
            int(record["generation"]),
            inventory,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IntegrityError):
        return None


def list_entries(cache_root: Path) -> list[Entry]:
    """Every readable entry, newest first (no network, no asset read)."""
    root = entries_root(cache_root)
    if not root.is_dir():
        return []
    found = [
        entry
        for child in sorted(root.iterdir())
        if not child.name.startswith(".") and (entry := read_entry(child)) is not None
    ]
    return sorted(found, key=lambda e: (-e.generation, e.folder.name))


def files_present(entry: Entry) -> tuple[int, int]:
    """(files, bytes) of the entry's assets present at their listed size (no hashing)."""
    files = done = 0
    for asset in entry.inventory.assets.values():
        path = entry.folder / asset.path
        if path.is_file() and path.stat().st_size == asset.bytes:
            files += 1
            done += asset.bytes
    return files, done


def verify_entry(entry: Entry) -> None:
    """Check every file of ``entry`` against its inventory, and the page's build id.

    Raises
    ------
    IntegrityError
        Naming the first file that is missing or differs.
    """
    for asset in entry.inventory.assets.values():
        path = entry.folder / asset.path
        try:
            body = path.read_bytes()
        except OSError as error:
            raise IntegrityError(f"{path}: missing or unreadable ({error})") from error
        try:
            check_asset(asset, body)
            if asset.path == "index.html":
                check_page_build(body, entry.build_id)
        except IntegrityError as error:
            raise IntegrityError(f"{path}: {error}") from error


def new_stage(cache_root: Path) -> Path:
    """A private, empty staging folder beside the entries (same file system: renames are
    atomic)."""
    root = entries_root(cache_root)
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=root))


def write_record(stage: Path, inventory_body: bytes, inventory: Inventory, source: str) -> None:
    """Write the inventory and the record into a staged build (its last two files)."""
    newest = list_entries(stage.parent.parent)  # the stage is <cache>/current/.staging-*
    record = {
        "version": 1,
        "build_id": inventory.build_id,
        "source_url": source,
        "inventory_sha256": sha256_hex(inventory_body),
        "generation": (newest[0].generation + 1) if newest else 1,
    }
    (stage / INVENTORY_NAME).write_bytes(inventory_body)
    (stage / RECORD_NAME).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def activate(stage: Path) -> Entry:
    """Rename a verified staged build into place as its build's entry.

    When another process activated the same build first, its folder is kept and the stage
    discarded; a damaged folder of that name is retired and replaced.

    Raises
    ------
    IntegrityError
        When the staged folder is not a readable entry.
    """
    staged = read_entry(stage)
    if staged is None:
        raise IntegrityError(f"the staged build in {stage} has no readable record")
    target = stage.parent / entry_name(staged.build_id, staged.inventory_sha256)
    for _ in range(3):
        try:
            stage.rename(target)
            return _moved(staged, target)
        except OSError:
            current = read_entry(target)
            if current is not None and is_intact(current):
                discard(stage)
                return current
            retire(target)
    raise IntegrityError(f"could not put the downloaded build in place at {target}")


def _moved(entry: Entry, folder: Path) -> Entry:
    return Entry(
        folder,
        entry.build_id,
        entry.source_url,
        entry.inventory_sha256,
        entry.generation,
        entry.inventory,
    )


def is_intact(entry: Entry) -> bool:
    try:
        verify_entry(entry)
    except IntegrityError:
        return False
    return True


def retire(folder: Path) -> None:
    """Remove a build folder: renamed away first, so no reader finds it half deleted."""
    if not folder.exists():
        return
    away = folder.parent / f"{RETIRED_PREFIX}{uuid.uuid4().hex}"
    try:
        folder.rename(away)
    except FileNotFoundError:
        return  # another process retired it
    except OSError as error:
        log.warning("could not remove the old web app build %s (%s)", folder, error)
        return
    discard(away)


def discard(folder: Path) -> None:
    """Delete a staging or retired folder (what cannot be removed is left: it is only space,
    and ``cellucid viewer clear`` removes it later)."""
    shutil.rmtree(folder, ignore_errors=True)
