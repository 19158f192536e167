"""``cellucid prepare INPUT OUTDIR``: export a .h5ad file or AnnData Zarr store."""

from __future__ import annotations

import argparse
from typing import Any

from cellucid import options as option_table
from cellucid.commands import EXPORT_ERRORS, print_error


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
    for dim in (1, 2, 3):
        g.add_argument(
            f"--embedding-{dim}d",
            metavar="KEY",
            help=f"obsm key of the {dim}D embedding; always wins over --embedding and X_umap",
        )
    g.add_argument(
        "--vector-field",
        dest="vector_keys",
        action="append",
        default=[],
        type=_key_and_name,
        metavar="KEY=NAME",
        help="export obsm KEY as vector field NAME, e.g. velocity_tsne=velocity_umap_2d "
        "(repeatable; <field>_umap[_<d>d] keys are found by themselves on a UMAP)",
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
        embeddings={
            d: key for d in (1, 2, 3) if (key := getattr(args, f"embedding_{d}d")) is not None
        },
        vector_keys=dict(args.vector_keys),
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


def _key_and_name(text: str) -> tuple[str, str]:
    key, sep, name = text.partition("=")
    if not (sep and key and name):
        raise argparse.ArgumentTypeError(f"must be KEY=NAME, got {text!r}")
    return key, name


def run(args: argparse.Namespace) -> int:
    """Run the export; errors are one line on stderr and exit code 1."""
    from cellucid.anndata_input import prepare_anndata
    from cellucid.engine.lock import ExportLockedError

    try:
        prepare_anndata(args.input, args.out_dir, **export_options(args))
    except (*EXPORT_ERRORS, ExportLockedError) as error:
        return print_error("prepare", error)
    return 0
