"""What to tell a user whose machine cannot download the viewer (page and CLI).

Two viewers can be missing: a pinned build (for export folders) or the current web app (for
Cellucid-ready AnnData). Each message says what failed, where the cache is, and the ways out.
"""

from __future__ import annotations

import html

from cellucid.serving.viewer import ViewerAssets
from cellucid.serving.webapp import APP_URL_VARIABLE, CurrentApp

DATA_STILL_WORKS = (
    "The data endpoints (/_cellucid/health, /_cellucid/datasets and the data files) work "
    "without it."
)


def _pinned_help(viewer: ViewerAssets) -> str:
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
        f"{DATA_STILL_WORKS}"
    )


def _current_help(app: CurrentApp) -> str:
    folder = app.entries_folder
    return (
        f"The Cellucid web app ({app.source}) is not available: no complete build of it is "
        f"in the cache folder {folder}, and fetching it failed:\n"
        f"  {app.last_error or 'no network'}\n"
        "Two ways to use it on this machine:\n"
        "  1. on a machine with internet access, with this package installed, run "
        "`cellucid viewer download`\n"
        f"     (`cellucid viewer status` there prints its cache folder), copy that folder's "
        f"`{folder.name}` folder to {folder} here\n"
        f"     (or set CELLUCID_WEB_CACHE_DIR to a folder that holds `{folder.name}/`), "
        "then start again;\n"
        f"  2. or point {APP_URL_VARIABLE} (or --web-source-url) at a local copy of the app:\n"
        "     a folder holding cellucid-web-assets.json and every file it lists (each build\n"
        f"     folder under {folder.name}/ is one), or http://127.0.0.1:PORT serving such a "
        "folder.\n"
        f"{DATA_STILL_WORKS}"
    )


def offline_help(viewer: ViewerAssets | CurrentApp) -> str:
    """Plain-text account of why the viewer is unavailable and the ways to get it here.

    Parameters
    ----------
    viewer
        A pinned build (:class:`~cellucid.serving.viewer.ViewerAssets`) or the current app
        (:class:`~cellucid.serving.webapp.CurrentApp`).

    Returns
    -------
    str
        Several lines, for stderr or the page at ``/``.
    """
    if isinstance(viewer, CurrentApp):
        return _current_help(viewer)
    return _pinned_help(viewer)


def offline_page(viewer: ViewerAssets | CurrentApp) -> str:
    """The HTML page served at ``/`` while the viewer is unavailable."""
    text = html.escape(offline_help(viewer))
    name = "web app" if isinstance(viewer, CurrentApp) else "viewer"
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        f"<title>Cellucid {name} not downloaded</title></head>\n"
        '<body style="font-family: sans-serif; max-width: 52em; margin: 3em auto">\n'
        f"<h1>The Cellucid {name} is not available offline yet</h1>\n"
        f'<pre style="white-space: pre-wrap">{text}</pre>\n'
        '<p>Data: <a href="_cellucid/datasets">_cellucid/datasets</a></p>\n'
        "</body></html>\n"
    )
