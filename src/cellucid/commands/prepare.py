"""``cellucid prepare INPUT OUTDIR``: export a .h5ad file or AnnData Zarr store."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _bits(text: str) -> int | None:
    if text.lower() in ("none", "off", "0"):
        return None
    if text not in ("8", "16"):
        raise argparse.ArgumentTypeError(f"must be 8, 16 or none, got {text!r}")
    return int(text)


def _level(text: str) -> int | None:
    if text.lower() in ("none", "off"):
        return None
    if not text.isdigit() or not 0 <= int(text) <= 9:
        raise argparse.ArgumentTypeError(f"must be a gzip level 0-9 or none, got {text!r}")
    return int(text) or None


def _quantile(text: str) -> float | None:
    if text.lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a number in (0, 1) or none, got {text!r}"
        ) from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be strictly between 0 and 1, got {text!r}")
    return value


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
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("input", metavar="INPUT", help=".h5ad file or AnnData Zarr store")
    p.add_argument("out_dir", metavar="OUTDIR", help="export folder to write")
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
    g.add_argument(
        "--var-gene-id-column", default="index", help="var column holding the gene ids, or 'index'"
    )
    f = p.add_argument_group("format")
    f.add_argument("--compression", type=_level, default=6, help="gzip level 1-9, or none")
    f.add_argument("--var-quantization", type=_bits, default=8, help="8, 16 or none (float32)")
    f.add_argument(
        "--obs-continuous-quantization", type=_bits, default=None, help="8, 16 or none (float32)"
    )
    f.add_argument("--obs-categorical-dtype", choices=["auto", "uint8", "uint16"], default="auto")
    f.add_argument("--centroid-outlier-quantile", type=_quantile, default=0.95)
    f.add_argument("--centroid-min-points", type=int, default=10)
    f.add_argument("--obs-manifest-filename", default="obs_manifest.json")
    f.add_argument("--obs-binary-dirname", default="obs")
    f.add_argument("--var-manifest-filename", default="var_manifest.json")
    f.add_argument("--var-binary-dirname", default="var")
    f.add_argument("--connectivity-manifest-filename", default="connectivity_manifest.json")
    f.add_argument("--connectivity-binary-dirname", default="connectivity")
    m = p.add_argument_group("dataset metadata")
    for name in ("name", "description", "id"):
        m.add_argument(f"--dataset-{name}")
    for name in ("name", "url", "citation"):
        m.add_argument(f"--source-{name}")
    r = p.add_argument_group("run")
    r.add_argument("--force", action="store_true", help="overwrite an earlier export in OUTDIR")
    r.add_argument("--chunk-size", type=int, help="cells per chunk for reductions")
    r.add_argument(
        "--scheduler",
        choices=["threads", "sync", "processes"],
        help="dask scheduler (default: the active cluster, else threads)",
    )
    r.add_argument("--no-progress", action="store_true", help="no progress bars")
    r.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the export; errors are one line on stderr and exit code 1."""
    from cellucid.anndata_input import prepare_anndata

    try:
        prepare_anndata(
            args.input,
            args.out_dir,
            embedding_keys=args.embedding_keys,
            latent_key=args.latent_key,
            connectivities_key=None if args.no_connectivities else args.connectivities_key,
            layer=args.layer,
            obs_keys=args.obs_keys,
            gene_identifiers=args.genes,
            genes_file=args.genes_file,
            include_genes=not args.no_genes,
            include_vector_fields=not args.no_vector_fields,
            quiet=args.quiet,
            var_gene_id_column=args.var_gene_id_column,
            compression=args.compression,
            var_quantization=args.var_quantization,
            obs_continuous_quantization=args.obs_continuous_quantization,
            obs_categorical_dtype=args.obs_categorical_dtype,
            centroid_outlier_quantile=args.centroid_outlier_quantile,
            centroid_min_points=args.centroid_min_points,
            obs_manifest_filename=args.obs_manifest_filename,
            obs_binary_dirname=args.obs_binary_dirname,
            var_manifest_filename=args.var_manifest_filename,
            var_binary_dirname=args.var_binary_dirname,
            connectivity_manifest_filename=args.connectivity_manifest_filename,
            connectivity_binary_dirname=args.connectivity_binary_dirname,
            dataset_name=args.dataset_name,
            dataset_description=args.dataset_description,
            dataset_id=args.dataset_id,
            source_name=args.source_name,
            source_url=args.source_url,
            source_citation=args.source_citation,
            force=args.force,
            chunk_size=args.chunk_size,
            scheduler=args.scheduler,
            progress=False if args.no_progress or args.quiet else None,
        )
    except (
        FileNotFoundError,
        KeyError,
        ValueError,
        TypeError,
        NotImplementedError,
        OSError,
    ) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"cellucid prepare: error: {message}", file=sys.stderr)
        return 1
    return 0
