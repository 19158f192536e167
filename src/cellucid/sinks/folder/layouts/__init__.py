"""Export layouts: how payload files are named, how manifest tuples are shaped, and the
validator's rules that depend on both.

``key`` is the layout of cellucid 0.0.9 (file names from ``safe(key)``), the default.
``index`` is the layout of upstream cellucid 0.9.1 (file names from integer indices).
Each layout is one module that registers itself; nothing else names a layout.
"""

from __future__ import annotations

import json
from pathlib import Path

from cellucid.sinks.folder.layouts import index as _index  # noqa: F401  (registers "index")
from cellucid.sinks.folder.layouts import key as _key  # noqa: F401  (registers "key")
from cellucid.sinks.folder.layouts.base import Layout
from cellucid.sinks.folder.layouts.registry import (
    claiming_layout,
    get_layout,
    layout_names,
    register_layout,
    unregister_layout,
)

DEFAULT_LAYOUT = "key"

_MANIFESTS = ("obs_manifest.json", "var_manifest.json")


def _patterns(document: dict) -> list[str]:
    found = []
    for schema in [*document.get("_obsSchemas", {}).values(), document.get("_varSchema", {})]:
        if isinstance(schema, dict):
            found += [
                v for k, v in schema.items() if k.endswith("PathPattern") and isinstance(v, str)
            ]
            if isinstance(schema.get("pathPattern"), str):
                found.append(schema["pathPattern"])
    return found


def detect_layout(export_dir: str | Path) -> str:
    """The layout of an export folder, read from its manifests' path patterns.

    The version string in ``dataset_identity.json`` does not tell layouts apart (upstream
    wrote "0.9.1" on both), so the patterns decide. A folder with no pattern at all (no
    manifest, or no field) is taken as the default key layout.
    """
    root = Path(export_dir)
    for name in _MANIFESTS:
        try:
            document = json.loads((root / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(document, dict):
            layout = claiming_layout(_patterns(document))
            if layout is not None:
                return layout.name
    return DEFAULT_LAYOUT


__all__ = [
    "DEFAULT_LAYOUT",
    "Layout",
    "claiming_layout",
    "detect_layout",
    "get_layout",
    "layout_names",
    "register_layout",
    "unregister_layout",
]
