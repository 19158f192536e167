"""``cellucid viewer download|status|clear``: the cached copies of the viewers.

Two viewers live in the web cache: today's Cellucid web app (for Cellucid-ready AnnData,
fetched from its site, ``<cache>/current/``) and the pinned BSD-3-Clause builds (for export
folders, ``<cache>/<commit>/``). ``download`` fetches the current app unless ``--pinned`` or
``--layout`` asks for the pinned builds.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cellucid.report import count

LAYOUT_CHOICES = ("key", "index", "all")


def add_parser(subparsers: Any) -> None:
    """Register ``cellucid viewer``."""
    p = subparsers.add_parser(
        "viewer",
        help="download, inspect or clear the cached Cellucid viewers",
        description=(
            "`cellucid serve` serves one of two viewers, both cached on first use: today's "
            "Cellucid web app (for Cellucid-ready AnnData; fetched from www.cellucid.com and "
            "checked against the site's inventory) or a pinned BSD-3-Clause build of "
            "theislab/cellucid (for export folders, one per export layout). Download them "
            "here for machines without internet access, then copy the cache folder there."
        ),
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    download = actions.add_parser(
        "download",
        help="fetch and verify the current web app (default) or the pinned builds",
    )
    which = download.add_mutually_exclusive_group()
    which.add_argument(
        "--pinned",
        action="store_true",
        help="the pinned builds for export folders (both layouts) instead of the current app",
    )
    which.add_argument(
        "--layout",
        choices=LAYOUT_CHOICES,
        default=None,
        help="the pinned build for this export layout (all: both) instead of the current app",
    )
    download.add_argument(
        "--web-source-url",
        default=None,
        help=(
            "where to fetch from: for the current app its site (default: "
            "$CELLUCID_WEB_APP_URL or https://www.cellucid.com; https, or http on loopback, "
            "or a local copy's folder); for the pinned builds the raw host (default: "
            "$CELLUCID_WEB_SOURCE_URL or raw GitHub)"
        ),
    )
    download.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    download.set_defaults(func=run_download)
    status = actions.add_parser("status", help="what is cached, where")
    status.add_argument(
        "--exports",
        action="store_true",
        help="also list the export cache (exports made by serve_anndata / cellucid serve X.h5ad)",
    )
    status.set_defaults(func=run_status)
    clear = actions.add_parser("clear", help="delete the cached viewers (all by default)")
    only = clear.add_mutually_exclusive_group()
    only.add_argument("--current", action="store_true", help="only the current web app's builds")
    only.add_argument("--pinned", action="store_true", help="only the pinned builds")
    only.add_argument(
        "--exports", action="store_true", help="delete the export cache instead of the viewers"
    )
    clear.set_defaults(func=run_clear)


def _viewers(layout: str, source: str | None = None) -> list:
    from cellucid.serving.builds import BUILDS
    from cellucid.serving.viewer import ViewerAssets

    layouts = sorted(BUILDS) if layout == "all" else [layout]
    return [ViewerAssets(BUILDS[name], source) for name in layouts]


def _error(message: object) -> None:
    print(f"cellucid viewer download: error: {message}", file=sys.stderr)


def run_download(args: argparse.Namespace) -> int:
    if args.pinned or args.layout is not None:
        return _download_pinned(args.layout or "all", args.web_source_url, args.quiet)
    return _download_current(args.web_source_url, args.quiet)


def _download_current(source: str | None, quiet: bool) -> int:

    from cellucid.serving.inventory import IntegrityError
    from cellucid.serving.offline import offline_help
    from cellucid.serving.viewer import ViewerUnavailable
    from cellucid.serving.webapp import CurrentApp

    try:
        app = CurrentApp(source)
    except ValueError as error:
        _error(error)
        return 2
    try:
        inventory = app.site_inventory()
    except (ViewerUnavailable, IntegrityError) as error:
        _error(error)
        if isinstance(error, ViewerUnavailable):
            print(offline_help(app), file=sys.stderr)
        return 1
    failures = _download_all(app, inventory, f"Cellucid web app {inventory.build_id}", quiet)
    for path, reason in failures:
        _error(f"{path}: {reason}" if path not in reason else reason)
    if failures:
        print(
            "cellucid viewer download: nothing was cached; the cache is as it was.",
            file=sys.stderr,
        )
        return 1
    print(
        f"current web app build {inventory.build_id} from {app.source}: "
        f"{count(len(inventory.assets), 'file')}, {count(inventory.total_bytes, 'byte')}, "
        f"verified, in {app.folder}"
    )
    return 0


def _download_all(viewer: Any, inventory: Any, desc: str, quiet: bool) -> list[tuple[str, str]]:
    """Every file of ``viewer``'s build, with one bar counting bytes; the failures."""
    from tqdm import tqdm

    with tqdm(
        total=inventory.total_bytes, unit="B", unit_scale=True, desc=desc, disable=quiet
    ) as bar:
        return viewer.download_all(progress=bar.update)


def _download_pinned(layout: str, source: str | None, quiet: bool) -> int:

    from cellucid.serving.inventory import IntegrityError
    from cellucid.serving.offline import offline_help
    from cellucid.serving.viewer import ViewerUnavailable

    status = 0
    for viewer in _viewers(layout, source):
        build = viewer.build
        try:
            inventory = viewer.inventory()
        except (ViewerUnavailable, IntegrityError) as error:
            _error(error)
            if isinstance(error, ViewerUnavailable):
                print(offline_help(viewer), file=sys.stderr)
            status = 1
            continue
        desc = f"{build.layout} layout viewer {build.commit[:12]}"
        failures = _download_all(viewer, inventory, desc, quiet)
        for path, reason in failures:
            _error(f"{path}: {reason}")
        if failures:
            status = 1
            continue
        print(
            f"{build.layout} layout viewer {build.commit}: {count(len(inventory.assets), 'file')}, "
            f"{count(inventory.total_bytes, 'byte')}, verified, in {viewer.folder}"
        )
    return status


def _state(files: int, total: int, done: int, size: int) -> str:
    word = "complete" if files == total else "partial"
    return f"{word}: {files:,}/{count(total, 'file')}, {done:,}/{count(size, 'byte')}"


def print_current_app(cache_root: Any) -> None:
    """The current app's source and cached builds, newest first (no network request)."""
    from cellucid.serving.webapp import app_source_url
    from cellucid.serving.webapp.entries import entries_root, files_present, list_entries

    try:
        source = app_source_url()
    except ValueError as error:
        source = f"refused: {error}"
    builds = list_entries(cache_root)
    print(f"  current web app (source {source}), in {entries_root(cache_root)}:")
    if not builds:
        print("    not downloaded")
    mine = [e for e in builds if e.source_url == source] or builds
    for entry in builds:
        files, done = files_present(entry)
        state = _state(files, len(entry.inventory.assets), done, entry.inventory.total_bytes)
        served = "  <- served" if mine and entry is mine[0] else ""
        print(
            f"    build {entry.build_id} from {entry.source_url} ({entry.folder.name}): "
            f"{state}{served}"
        )


def run_status(args: argparse.Namespace) -> int:
    from cellucid.serving.webcache import get_web_cache_dir

    cache = get_web_cache_dir()
    print(f"Cache folder: {cache}")
    print_current_app(cache)
    for viewer in _viewers("all"):
        build = viewer.build
        state = viewer.cached_state()
        summary = "not downloaded" if state is None else _state(*state)
        print(f"  {build.layout} layout: build {build.commit} ({viewer.folder}): {summary}")
    if getattr(args, "exports", False):
        print_export_cache()
    return 0


def print_export_cache() -> None:
    """One line per cached export: folder, complete or partial, size."""
    from cellucid.serving.exportcache import (
        cached_exports,
        export_cache_limit,
        get_export_cache_dir,
    )

    found = cached_exports()
    limit = export_cache_limit()
    bound = "no size limit" if limit is None else f"limit {limit / 1e9:g} GB"
    print(f"Export cache: {get_export_cache_dir()} ({count(len(found), 'export')}, {bound})")
    for folder, complete, size in found:
        word = "complete" if complete else "partial"
        print(f"  {folder.name}: {word}, {size:,} bytes")


def run_clear(args: argparse.Namespace) -> int:
    from cellucid.serving.webcache import clear_web_cache, get_web_cache_dir, remove_folder

    if getattr(args, "exports", False):
        from cellucid.serving.exportcache import clear_export_cache, get_export_cache_dir

        freed = clear_export_cache()
        print(f"Removed {get_export_cache_dir()} ({freed:,} bytes).")
        return 0
    if getattr(args, "current", False) or getattr(args, "pinned", False):
        from cellucid.serving.builds import BUILDS
        from cellucid.serving.webapp.entries import entries_root

        cache = get_web_cache_dir()
        if args.current:
            folders = [entries_root(cache)]
        else:
            folders = [cache / build.commit for build in BUILDS.values()]
        for folder in folders:
            print(f"Removed {folder} ({count(remove_folder(folder), 'byte')}).")
        return 0
    freed = clear_web_cache()
    print(f"Removed {get_web_cache_dir()} ({count(freed, 'byte')}).")
    return 0
