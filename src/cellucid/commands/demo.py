"""``cellucid demo OUTDIR``: export the built-in synthetic atlas (the quick start)."""

from __future__ import annotations

import argparse
from typing import Any

from cellucid.commands import EXPORT_ERRORS, print_error


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def add_parser(subparsers: Any) -> None:
    """Register ``cellucid demo``."""
    p = subparsers.add_parser(
        "demo",
        help="export the built-in example atlas (and optionally save it as .h5ad)",
        description="Export a small synthetic atlas to OUTDIR, ready for `cellucid serve`.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("out_dir", metavar="OUTDIR", help="export folder to write")
    p.add_argument("--n-cells", type=_positive_int, default=3000, help="cells in the atlas")
    p.add_argument("--n-genes", type=_positive_int, default=200, help="genes in the atlas")
    p.add_argument("--h5ad", metavar="PATH", help="also save the atlas as a .h5ad file")
    p.add_argument("--force", action="store_true", help="overwrite an earlier export")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the demo export (and .h5ad); print where it went."""
    from cellucid.demo import make_demo_anndata, write_demo_export
    from cellucid.errors import ExportLockedError

    try:
        if args.h5ad:
            make_demo_anndata(args.n_cells, args.n_genes).write_h5ad(args.h5ad)
        out = write_demo_export(
            args.out_dir,
            n_cells=args.n_cells,
            n_genes=args.n_genes,
            quiet=args.quiet,
            force=args.force,
        )
    except (*EXPORT_ERRORS, ExportLockedError) as error:
        return print_error("demo", error)
    if not args.quiet:
        print(f"\nDone. View it with: cellucid serve {out}")
    return 0
