"""What to tell a user whose machine cannot download the viewer build (page and CLI)."""

from __future__ import annotations

import html

from cellucid.serving.viewer import ViewerAssets


def offline_help(viewer: ViewerAssets) -> str:
    """Plain-text steps to download the build elsewhere and copy its cache folder here."""
    build = viewer.build
    return (
        f"The Cellucid viewer (build {build.commit[:12]}, for {build.layout}-layout exports) "
        f"is not in the cache folder {viewer.folder} and could not be downloaded "
        f"({viewer.last_error or 'no network'}).\n"
        "To use the viewer without internet on this machine:\n"
        "  1. on a machine with internet access, with this package installed: "
        f"cellucid viewer download --layout {build.layout}\n"
        "     (`cellucid viewer status` there prints where it was cached)\n"
        f"  2. copy that machine's folder <cache>/{build.commit} to {viewer.folder} here\n"
        "     (or point CELLUCID_WEB_CACHE_DIR at a folder that holds it), then reload.\n"
        "The data endpoints (/_cellucid/health, /_cellucid/datasets, the export files) work "
        "without it."
    )


def offline_page(viewer: ViewerAssets) -> str:
    """The HTML page served at ``/`` while the build is unavailable."""
    text = html.escape(offline_help(viewer))
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        "<title>Cellucid viewer not downloaded</title></head>\n"
        '<body style="font-family: sans-serif; max-width: 52em; margin: 3em auto">\n'
        "<h1>The Cellucid viewer is not available offline yet</h1>\n"
        f'<pre style="white-space: pre-wrap">{text}</pre>\n'
        '<p>Data: <a href="_cellucid/datasets">_cellucid/datasets</a></p>\n'
        "</body></html>\n"
    )
