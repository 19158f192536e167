"""Export layouts: how payload files are named and how manifests are shaped.

``key`` is the layout of cellucid 0.0.9 (file names from ``safe(key)``), the default.
``index`` is the layout of upstream cellucid 0.9.1 (file names from integer indices).
"""

from __future__ import annotations

import json
from pathlib import Path

#: the names of the layouts this package writes and validates
LAYOUT_NAMES = ("key", "index")
DEFAULT_LAYOUT = "key"

_MANIFESTS = ("obs_manifest.json", "var_manifest.json")


def detect_layout(export_dir: str | Path) -> str:
    """The layout of an export folder, read from its manifests' path patterns.

    The index layout names payloads ``{index}``; the key layout ``{key}``. The version
    string in ``dataset_identity.json`` does not tell them apart (upstream wrote "0.9.1"
    on both), so the patterns decide. A folder with no pattern at all (no manifest, or
    no field) is taken as the default key layout.
    """
    root = Path(export_dir)
    for name in _MANIFESTS:
        path = root / name
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
            json.loads(text)
        except (OSError, ValueError):
            continue
        if "{index}" in text:
            return "index"
        if "{key}" in text:
            return "key"
    return DEFAULT_LAYOUT
