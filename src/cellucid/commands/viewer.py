"""``cellucid viewer download|status|clear``: the cached copies of the pinned viewer builds."""

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
        help="download, inspect or clear the cached Cellucid viewer builds",
        description=(
            "The web viewer `cellucid serve` serves is a pinned BSD-3-Clause build of "
            "theislab/cellucid, one per export layout, cached on first use. Download it here "
            "for machines without internet access, then copy the cache folder there."
        ),
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    download = actions.add_parser(
        "download", help="fetch and verify every file of the pinned build(s)"
    )
    download.add_argument(
        "--layout",
        choices=LAYOUT_CHOICES,
        default="all",
        help="the build for this export layout (default: both)",
    )
    download.add_argument(
        "--web-source-url",
        default=None,
        help="where builds are fetched from (default: $CELLUCID_WEB_SOURCE_URL or raw GitHub)",
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
    clear = actions.add_parser("clear", help="delete every cached build")
    clear.add_argument(
        "--exports", action="store_true", help="delete the export cache instead of the builds"
    )
    clear.set_defaults(func=run_clear)


def _viewers(layout: str, source: str | None = None) -> list:
    from cellucid.serving.builds import BUILDS
    from cellucid.serving.viewer import ViewerAssets

    layouts = sorted(BUILDS) if layout == "all" else [layout]
    return [ViewerAssets(BUILDS[name], source) for name in layouts]


def run_download(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from cellucid.serving.inventory import IntegrityError
    from cellucid.serving.offline import offline_help
    from cellucid.serving.viewer import ViewerUnavailable

    status = 0
    for viewer in _viewers(args.layout, args.web_source_url):
        build = viewer.build
        try:
            inventory = viewer.inventory()
        except (ViewerUnavailable, IntegrityError) as error:
            print(f"cellucid viewer download: error: {error}", file=sys.stderr)
            if isinstance(error, ViewerUnavailable):
                print(offline_help(viewer), file=sys.stderr)
            status = 1
            continue
        with tqdm(
            total=inventory.total_bytes,
            unit="B",
            unit_scale=True,
            desc=f"{build.layout} layout viewer {build.commit[:12]}",
            disable=args.quiet,
        ) as bar:
            failures = viewer.download_all(progress=bar.update)
        for path, reason in failures:
            print(f"cellucid viewer download: error: {path}: {reason}", file=sys.stderr)
        if failures:
            status = 1
            continue
        print(
            f"{build.layout} layout viewer {build.commit}: {count(len(inventory.assets), 'file')}, "
            f"{count(inventory.total_bytes, 'byte')}, verified, in {viewer.folder}"
        )
    return status


def run_status(args: argparse.Namespace) -> int:
    from cellucid.serving.webcache import get_web_cache_dir

    print(f"Cache folder: {get_web_cache_dir()}")
    for viewer in _viewers("all"):
        build = viewer.build
        state = viewer.cached_state()
        if state is None:
            summary = "not downloaded"
        else:
            files, total, done, size = state
            word = "complete" if files == total else "partial"
            summary = f"{word}: {files:,}/{count(total, 'file')}, {done:,}/{count(size, 'byte')}"
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
    from cellucid.serving.webcache import clear_web_cache, get_web_cache_dir

    if getattr(args, "exports", False):
        from cellucid.serving.exportcache import clear_export_cache, get_export_cache_dir

        freed = clear_export_cache()
        print(f"Removed {get_export_cache_dir()} ({freed:,} bytes).")
        return 0

    freed = clear_web_cache()
    print(f"Removed {get_web_cache_dir()} ({count(freed, 'byte')}).")
    return 0
