"""The pinned viewer builds: which BSD-3-Clause Cellucid web build reads which export layout.

Only these commits are ever fetched. Each is pinned by the sha256 of its inventory file
(``cellucid-web-assets.json``), and every file the inventory names is checked against its
own sha256 and size, so a moved tag, a rewritten branch or a tampered mirror cannot change
what is served. See docs/serving.md and /spec/viewer-builds.md for where the values come from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: where ``<commit>/<path>`` is fetched from (a raw.githubusercontent.com-style host)
DEFAULT_WEB_SOURCE_URL = "https://raw.githubusercontent.com/theislab/cellucid"
#: name of the inventory file at the root of every build
INVENTORY_NAME = "cellucid-web-assets.json"


@dataclass(frozen=True)
class ViewerBuild:
    """One pinned viewer build."""

    layout: str  # the export layout this build reads
    commit: str  # commit of theislab/cellucid
    inventory_sha256: str  # sha256 of that commit's cellucid-web-assets.json
    build_id: str  # the inventory's build_id, for messages only (never pin by it)


#: layout -> build. Tests replace entries to pin a fake build served from 127.0.0.1.
BUILDS: dict[str, ViewerBuild] = {
    # theislab/cellucid b343877045377ee150aefca03334b9f5a4773f99: strict key-layout viewer,
    # 428 assets, 16,757,417 bytes
    "key": ViewerBuild(
        layout="key",
        commit="b343877045377ee150aefca03334b9f5a4773f99",
        inventory_sha256="6a9163faca2dfde1e5242e2f3a6d09f57995da3d1a205b8cec4b6bae3870115f",
        build_id="2025-12-31T23:59:59Z-theislab-datasets",
    ),
    # theislab/cellucid 53676d15038889e6005f422f0e001686f62d4d00: index-layout viewer,
    # 466 assets, 18,379,375 bytes (d6e5fee claims the same build id with other files:
    # pin by commit)
    "index": ViewerBuild(
        layout="index",
        commit="53676d15038889e6005f422f0e001686f62d4d00",
        inventory_sha256="18e344d9ff9c6cb3c55ae662e7ace4cd3ce71721de82bccb524c7c8332f89d1b",
        build_id="2026-07-27.24",
    ),
}


def build_for_layout(layout: str) -> ViewerBuild:
    """The pinned build that reads exports of ``layout`` (``"key"`` or ``"index"``).

    Parameters
    ----------
    layout
        An export layout, as returned by :func:`cellucid.sinks.folder.layouts.detect_layout`.

    Returns
    -------
    ViewerBuild
        The build pinned for that layout.
    """
    try:
        return BUILDS[layout]
    except KeyError:
        raise ValueError(f"no viewer build is pinned for the {layout!r} layout") from None


def web_source_url(override: str | None = None) -> str:
    """The base URL builds are fetched from: ``override``, ``$CELLUCID_WEB_SOURCE_URL``, or
    the default raw GitHub host (no trailing slash)."""
    chosen = override or os.environ.get("CELLUCID_WEB_SOURCE_URL") or DEFAULT_WEB_SOURCE_URL
    return chosen.rstrip("/")
