"""Parsing and checking a build's inventory (``cellucid-web-assets.json``) and its files."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import PurePosixPath


class IntegrityError(Exception):
    """Bytes that do not match what the pinned build says they are."""


@dataclass(frozen=True)
class Asset:
    """One file of a build, as its inventory names it."""

    path: str
    sha256: str
    bytes: int
    content_type: str


@dataclass(frozen=True)
class Inventory:
    """A verified inventory: the only paths a build may serve."""

    build_id: str
    assets: dict[str, Asset]

    @property
    def total_bytes(self) -> int:
        return sum(a.bytes for a in self.assets.values())


def sha256_hex(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _safe_path(path: object) -> bool:
    # the path becomes a file name in the cache: relative, POSIX, no way out of the folder
    if not isinstance(path, str) or not path or "\\" in path or "\x00" in path:
        return False
    parts = PurePosixPath(path).parts
    return not path.startswith("/") and all(p not in ("", ".", "..") for p in parts)


def parse_inventory(body: bytes, expected_sha256: str) -> Inventory:
    """Check an inventory file against its pinned sha256 and parse it.

    Parameters
    ----------
    body
        The bytes of ``cellucid-web-assets.json``.
    expected_sha256
        The sha256 pinned for the build.

    Returns
    -------
    Inventory
        The assets by path.

    Raises
    ------
    IntegrityError
        When the bytes do not hash to the pinned value or the document is malformed.
    """
    actual = sha256_hex(body)
    if actual != expected_sha256:
        raise IntegrityError(
            f"inventory sha256 is {actual}, the pinned build expects {expected_sha256}"
        )
    try:
        document = json.loads(body)
        if document.get("version") != 1:
            raise ValueError(f"unsupported inventory version {document.get('version')!r}")
        assets: dict[str, Asset] = {}
        for entry in document["assets"]:
            asset = Asset(
                str(entry["path"]),
                str(entry["sha256"]),
                int(entry["bytes"]),
                str(entry["content_type"]),
            )
            if not _safe_path(entry["path"]) or asset.path in assets:
                raise ValueError(f"bad or duplicate asset path {entry['path']!r}")
            assets[asset.path] = asset
        return Inventory(str(document["build_id"]), assets)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise IntegrityError(f"malformed inventory: {error}") from error


def check_asset(asset: Asset, body: bytes) -> None:
    """Raise :class:`IntegrityError` unless ``body`` is exactly ``asset``'s file."""
    if len(body) != asset.bytes:
        raise IntegrityError(f"{len(body)} bytes, the inventory says {asset.bytes}")
    actual = sha256_hex(body)
    if actual != asset.sha256:
        raise IntegrityError(f"sha256 is {actual}, the inventory says {asset.sha256}")
