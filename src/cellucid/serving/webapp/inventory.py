"""The app site's inventory (``cellucid-web-assets.json``) and the build id in its page.

Unlike a pinned build's, this inventory is not pinned to a known hash: the site decides the
build. So the document is read strictly (exactly the keys of version 1, sorted unique
portable paths, well-formed hashes), and ``index.html`` must name the same build in exactly
one ``<meta name="cellucid-web-build-id">``, so a page and an inventory of different builds
are never served together.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

from cellucid.serving.inventory import Asset, IntegrityError, Inventory

INVENTORY_NAME = "cellucid-web-assets.json"
BUILD_META = "cellucid-web-build-id"
MAX_BUILD_ID = 200
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MEDIA_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+(; ?[\w.+-]+=[\w.+-]+)*")
_ASSET_KEYS = {"path", "sha256", "bytes", "content_type"}
# names Windows cannot create: the cache folder may be copied to such a machine
_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{n}" for p in ("COM", "LPT") for n in range(1, 10)}


def _path_problem(path: object) -> str | None:
    if not isinstance(path, str) or not path:
        return "is not a non-empty string"
    if path.startswith("/") or any(c in path for c in '\\?#<>:"|*'):
        return "is not a relative, portable POSIX path"
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in path):
        return "holds whitespace or a control character"
    for part in path.split("/"):
        if part in ("", ".", "..") or part.endswith("."):
            return "has an empty, '.' or '..' segment"
        if part.split(".", 1)[0].upper() in _RESERVED:
            return "uses a name Windows reserves"
    if path == INVENTORY_NAME:
        return "is the inventory itself"
    return None


def _asset(number: int, entry: object) -> Asset:
    if not isinstance(entry, dict) or set(entry) != _ASSET_KEYS:
        raise ValueError(f"entry {number} must have exactly the keys {sorted(_ASSET_KEYS)}")
    path = entry["path"]
    problem = _path_problem(path)
    if problem is not None:
        raise ValueError(f"entry {number}: path {path!r} {problem}")
    if not isinstance(entry["sha256"], str) or not _SHA256.fullmatch(entry["sha256"]):
        raise ValueError(f"{path}: sha256 must be 64 lowercase hex digits")
    size = entry["bytes"]
    if type(size) is not int or size < 0:
        raise ValueError(f"{path}: bytes must be a non-negative integer")
    kind = entry["content_type"]
    if not isinstance(kind, str) or not _MEDIA_TYPE.fullmatch(kind):
        raise ValueError(f"{path}: content_type {kind!r} is not a media type")
    return Asset(path, entry["sha256"], size, kind)


def parse_app_inventory(body: bytes) -> Inventory:
    """Read the site's ``cellucid-web-assets.json``.

    Parameters
    ----------
    body
        The file's bytes.

    Returns
    -------
    Inventory
        The build id and the assets by path.

    Raises
    ------
    IntegrityError
        When the document is not a version-1 inventory, naming the first problem.
    """
    try:
        document = json.loads(body.decode("utf-8"))
        if not isinstance(document, dict) or set(document) != {"version", "build_id", "assets"}:
            raise ValueError("it must hold exactly the keys version, build_id and assets")
        if type(document["version"]) is not int or document["version"] != 1:
            raise ValueError(f"version is {document['version']!r}; only version 1 is read")
        build_id = document["build_id"]
        if not _good_build_id(build_id):
            raise ValueError(f"build_id {build_id!r} is not a non-empty trimmed string")
        entries = document["assets"]
        if not isinstance(entries, list) or not entries:
            raise ValueError("assets must be a non-empty list")
        assets = [_asset(number, entry) for number, entry in enumerate(entries)]
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise IntegrityError(f"{INVENTORY_NAME} is not JSON ({error})") from error
    except ValueError as error:
        raise IntegrityError(f"{INVENTORY_NAME} is malformed: {error}") from error
    paths = [a.path for a in assets]
    if paths != sorted(paths) or len(set(paths)) != len(paths):
        raise IntegrityError(f"{INVENTORY_NAME} is malformed: paths are not sorted and unique")
    if "index.html" not in paths:
        raise IntegrityError(f"{INVENTORY_NAME} is malformed: it lists no index.html")
    return Inventory(build_id, {a.path: a for a in assets})


def _good_build_id(value: object) -> bool:
    return (
        isinstance(value, str)
        and bool(value)
        and value == value.strip()
        and len(value) <= MAX_BUILD_ID
    )


class _BuildMeta(HTMLParser):
    """Collects the content of every ``<meta name="cellucid-web-build-id">``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = [value for key, value in attrs if key == "name"]
        if tag != "meta" or BUILD_META not in names:
            return
        contents = [value for key, value in attrs if key == "content"]
        if len(names) != 1 or len(contents) != 1:
            raise ValueError(f"a {BUILD_META} meta must have one name and one content")
        self.found.append(contents[0])


def check_page_build(page: bytes, build_id: str) -> None:
    """Raise :class:`IntegrityError` unless ``index.html`` names exactly ``build_id``.

    Parameters
    ----------
    page
        The bytes of ``index.html``.
    build_id
        The inventory's build id.
    """
    try:
        parser = _BuildMeta()
        parser.feed(page.decode("utf-8"))
        parser.close()
    except (UnicodeDecodeError, ValueError) as error:
        raise IntegrityError(f"index.html: {error}") from error
    if len(parser.found) != 1:
        raise IntegrityError(
            f'index.html holds {len(parser.found)} <meta name="{BUILD_META}"> elements; '
            "exactly one is required"
        )
    named = parser.found[0]
    if named != build_id:
        raise IntegrityError(
            f"index.html names build {named!r}, the inventory build {build_id!r}: the site "
            "serves files of two builds (mid-deployment?); try again later"
        )
