"""Names that become paths in the store: obs/var columns, obsm and obsp keys.

Each is a folder of a Zarr store (or a ZIP entry name someone may unpack), so it must be a
portable path component on every platform, and names side by side must differ by more than
letter case (macOS and Windows fold case: ``Sex`` and ``sex`` would be one folder). The same
rule holds in an ``.h5ad``, so a store converts to Zarr wherever it is copied.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .context import Context
from .read import ZARR_DOCUMENTS

# Characters no file name may hold on every platform: separators, the Windows set, and the
# C0 control characters.
_FORBIDDEN = re.compile(r'[/\\<>:"|?*\x00-\x1f]')
_DEVICE_NAMES = frozenset(
    {
        "CON",
        "PRN",
        "AUX",
        "NUL",
        *(f"COM{i}" for i in range(1, 10)),
        *(f"LPT{i}" for i in range(1, 10)),
    }
)
_PORTABLE = (
    'a portable path component: no / \\ < > : " | ? * or control character, not . or .. or '
    "a Zarr metadata name, no trailing space or dot, no Windows device name"
)


def name_problem(name: object) -> str | None:
    """Why ``name`` is not a portable path component, or None when it is."""
    if not isinstance(name, str) or not name:
        return "is not a non-empty string"
    if _FORBIDDEN.search(name):
        return "contains a character a file name cannot hold on every platform"
    if name in (".", "..") or name in ZARR_DOCUMENTS:
        return "is reserved by the Zarr store layout"
    if name.endswith((" ", ".")):
        return "ends with a space or a dot"
    if name.split(".", 1)[0].upper() in _DEVICE_NAMES:
        return "is a Windows device name"
    return None


def check_names(ctx: Context, parent: str, names: Iterable[str], what: str) -> None:
    """Every name portable and unique under case folding among its siblings in ``parent``."""
    seen: dict[str, str] = {}
    for name in names:
        problem = name_problem(name)
        if problem is not None:
            ctx.add(f"{parent}/{name}", f"{what} name {name!r} {problem}", _PORTABLE)
            continue
        folded = name.casefold()
        if folded in seen:
            first = seen[folded]
            detail = "is used twice" if first == name else f"and {first!r} differ only in case"
            ctx.add(
                f"{parent}/{name}",
                f"{what} name {name!r} {detail}",
                "names unique under case folding",
            )
        else:
            seen[folded] = name
