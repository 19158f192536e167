"""``cellucid prepare INPUT OUTDIR``: export a .h5ad file or AnnData Zarr store."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cellucid import options as option_table


def add_parser(subparsers: Any) -> None:
    """Register ``cellucid prepare``."""
    p = subparsers.add_parser(
        "prepare",
        help="export a .h5ad file or AnnData Zarr store for the Cellucid viewer",
        description=(
            "Export an AnnData (.h5ad, opened backed, or a Zarr store, opened lazily) to a "
            "Cellucid export folder. Embeddings come from obsm['X_umap'] (by width) and "
            "obsm['X_umap_1d/2d/3d'], the latent space from X_pca / X_scvi, the KNN graph "
            "from obsp['connectivities'] and vector fields from obsm '<field>_umap[_<d>d]'."
        ),
    )
    p.add_argument("input", metavar="INPUT", help=".h5ad file or AnnData Zarr store")
    p.add_argument("out_dir", metavar="OUTDIR", help="export folder to write")
    add_export_arguments(p)
    p.set_defaults(func=run)


def add_export_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``prepare_anndata`` (also offered by ``cellucid serve INPUT``)."""
    g = p.add_argument_group("what to export")
    g.add_argument(
        "--embedding",
        dest="embedding_keys",
        action="append",
        default=[],
        metavar="KEY",
        help="another obsm key to export as an embedding (repeatable)",
    )
    g.add_argument("--latent-key", help="obsm key of the latent space (default X_pca, X_scvi)")
    g.add_argument(
        "--connectivities-key", default="connectivities", help="obsp key of the KNN graph"
    )
    g.add_argument("--no-connectivities", action="store_true", help="export no graph")
    g.add_argument(
        "--obs-key",
        dest="obs_keys",
        action="append",
        metavar="COLUMN",
        help="obs column to export (repeatable; default all)",
    )
    g.add_argument("--layer", help="export this layer instead of X")
    g.add_argument("--genes", nargs="+", metavar="ID", help="gene ids to export")
    g.add_argument("--genes-file", metavar="FILE", help="file with one gene id per line")
    g.add_argument("--no-genes", action="store_true", help="export no gene expression")
    g.add_argument("--no-vector-fields", action="store_true", help="export no vector fields")
    option_table.add_arguments(p, {"what to export": g})


def export_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``prepare_anndata`` keyword arguments the parsed options name."""
    return dict(
        embedding_keys=args.embedding_keys,
        latent_key=args.latent_key,
        connectivities_key=None if args.no_connectivities else args.connectivities_key,
        layer=args.layer,
        obs_keys=args.obs_keys,
        gene_identifiers=args.genes,
        genes_file=args.genes_file,
        include_genes=not args.no_genes,
        include_vector_fields=not args.no_vector_fields,
        **{o.name: getattr(args, o.name) for o in option_table.OPTIONS},
    )


def run(args: argparse.Namespace) -> int:
    """Run the export; errors are one line on stderr and exit code 1."""
    from cellucid.anndata_input import prepare_anndata
    from cellucid.engine.lock import ExportLockedError

    try:
        prepare_anndata(args.input, args.out_dir, **export_options(args))
    except (
        FileNotFoundError,
        KeyError,
        ValueError,
        TypeError,
        NotImplementedError,
        OSError,
        ExportLockedError,
    ) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"cellucid prepare: error: {message}", file=sys.stderr)
        return 1
    return 0
