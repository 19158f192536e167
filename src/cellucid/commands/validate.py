"""``cellucid validate PATH``: check an export folder, or a Cellucid-ready AnnData store."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(subparsers: Any) -> None:
    """Register ``cellucid validate``."""
    p = subparsers.add_parser(
        "validate",
        help="check an export folder, or a Cellucid-ready AnnData store (.zarr, .zarr.zip, .h5ad)",
        description=(
            "An export folder: check every file its manifests name (existence, sizes, "
            "single-member gzip, category codes, edges, file-name collisions, strict JSON). "
            "A Cellucid-ready AnnData store (.zarr, .zarr.zip, .h5ad): check it against the "
            "contract of today's Cellucid web app (encodings, X as CSC, chunks, codecs, "
            "consolidated metadata, uns['cellucid'], names, embeddings, graph). One line per "
            "problem. Exit code 0 when valid, 1 when not, 2 when the path is neither."
        ),
    )
    p.add_argument(
        "export_dir",
        metavar="PATH",
        help="export folder, or store (.zarr folder, .zarr.zip or .h5ad file) to check",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="print only problems")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cellucid.verify.store import is_store_path

    if is_store_path(args.export_dir):
        return _run_store(args)
    from cellucid.errors import NotAnExportError
    from cellucid.verify import validate_export

    try:
        report = validate_export(args.export_dir)
    except NotAnExportError as error:
        print(f"cellucid validate: error: {error}", file=sys.stderr)
        return 2
    if not (args.quiet and report.ok):
        print(report.format())
    return 0 if report.ok else 1


def _run_store(args: argparse.Namespace) -> int:
    """A Cellucid-ready AnnData store (``.zarr``, ``.zarr.zip``, ``.h5ad``)."""
    from pathlib import Path

    from cellucid.report import count
    from cellucid.verify.store import validate_store

    path = Path(args.export_dir)
    if not path.exists():
        print(f"cellucid validate: error: {path} does not exist", file=sys.stderr)
        return 2
    problems = validate_store(path)
    if problems:
        print(f"{path}: INVALID ({count(len(problems), 'problem')}), Cellucid-ready AnnData")
        for line in problems:
            print(f"  ✗ {line}")
        return 1
    if not args.quiet:
        print(f"{path}: valid Cellucid-ready AnnData")
    return 0
