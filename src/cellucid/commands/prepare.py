"""``cellucid prepare INPUT OUT``: an export folder or a Cellucid-ready AnnData store.

OUT's name chooses (``--format`` overrides): ``NAME.zarr``, ``NAME.zarr.zip`` or
``NAME.h5ad`` is a Cellucid-ready store (:mod:`cellucid.anndata_store`), anything else an
export folder. Each kind refuses the flags of the other, naming the flag given.
"""

from __future__ import annotations

import argparse
import re
import textwrap
from collections.abc import Mapping
from typing import Any

from cellucid import options as option_table
from cellucid.anndata_store import FORMAT_NAMES, STORE_KEYWORDS, STORE_ONLY_KEYWORDS
from cellucid.commands import EXPORT_ERRORS, print_error

#: where the flags given on the command line are kept (flag dest -> option string typed)
GIVEN = "given_flags"
#: flag dests named other than the keyword they fill
_KEYWORD_OF = {"genes": "gene_identifiers"}
STORE_GROUP = "Cellucid-ready store (OUT ending in .zarr, .zarr.zip or .h5ad)"


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help, never breaking a line inside a flag (``--var-gene-id-column``)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        text = " ".join(text.split())
        return textwrap.fill(
            text, width, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False
        )

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def add_parser(subparsers: Any) -> None:
    """Register ``cellucid prepare``."""
    p = subparsers.add_parser(
        "prepare",
        help="export a .h5ad file or AnnData Zarr store: an export folder, or a "
        "Cellucid-ready .zarr / .zarr.zip / .h5ad",
        description=(
            "Export an AnnData (.h5ad, opened backed, or a Zarr store, opened lazily) to a "
            "Cellucid export folder, or, when OUT ends in .zarr, .zarr.zip or .h5ad, to a "
            "Cellucid-ready AnnData store for the Cellucid web app (X streamed, never loaded "
            "whole). Embeddings come from obsm['X_umap'] (by width) and "
            "obsm['X_umap_1d/2d/3d'], the latent space from X_pca / X_scvi, the KNN graph "
            "from obsp['connectivities'] and vector fields from obsm '<field>_umap[_<d>d]'; "
            "a store keeps every numeric obsm array."
        ),
        formatter_class=HelpFormatter,
    )
    p.add_argument("input", metavar="INPUT", help=".h5ad file or AnnData Zarr store")
    p.add_argument(
        "out_dir",
        metavar="OUT",
        help="export folder to write, or a Cellucid-ready store: NAME.zarr (a folder), "
        "NAME.zarr.zip or NAME.h5ad",
    )
    add_export_arguments(p)
    add_store_arguments(p)
    track_given_flags(p)
    p.set_defaults(func=run, **{GIVEN: {}})


def add_store_arguments(p: argparse.ArgumentParser) -> None:
    """The flags only a Cellucid-ready store takes, in a section of their own."""
    g = p.add_argument_group(STORE_GROUP)
    g.add_argument(
        "--format",
        choices=FORMAT_NAMES,
        help="write this whatever OUT's name (default: by OUT's suffix, else a folder)",
    )
    g.add_argument(
        "--zarr-format",
        type=int,
        choices=(2, 3),
        help="Zarr format of a .zarr or .zarr.zip store (default: 2)",
    )
    g.add_argument("--citation-text", metavar="TEXT", help="how to cite the dataset")
    g.add_argument("--citation-url", metavar="URL", help="link of the citation (http or https)")
    g.add_argument(
        "--vector-field-default",
        metavar="FIELD",
        help="vector field the viewer shows first (a field of obsm '<field>_<basis>')",
    )
    shared = [
        a.option_strings[0]
        for a in p._actions  # every flag added so far, in help order
        if a.option_strings and a.container is not g and _keyword(a.dest) in STORE_KEYWORDS
    ]
    g.description = (
        f"Also for a store: {', '.join(shared)}. Every other option is for export folders "
        "only. A store keeps every obs column: --obs-key names the ones the viewer lists. "
        "Without --dataset-name / --dataset-id (and none in uns['cellucid']) the name is "
        "OUT's name and the id the name in id form; the latent space defaults to X_pca, X_scvi."
    )


def track_given_flags(p: argparse.ArgumentParser) -> None:
    """Make every flag note in the namespace that it was given (not just defaulted).

    A folder-only flag given with a store output is an error even when its value equals
    the default (``--compression 6``), so the values alone cannot tell.
    """
    for action in p._actions:
        if action.option_strings and not isinstance(action, argparse._HelpAction):
            action.__class__ = _tracking(type(action))


_TRACKING: dict[type, type] = {}


def _tracking(cls: type) -> type:
    """``cls`` with a ``__call__`` that records its dest and option string first."""
    if cls not in _TRACKING:

        def call(self: Any, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
            given = dict(getattr(namespace, GIVEN, {}))
            given.setdefault(self.dest, option)
            setattr(namespace, GIVEN, given)
            cls.__call__(self, parser, namespace, values, option)

        _TRACKING[cls] = type(f"Given{cls.__name__}", (cls,), {"__call__": call})
    return _TRACKING[cls]


def _keyword(dest: str) -> str:
    return _KEYWORD_OF.get(dest, dest)


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


def store_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``prepare_anndata`` keywords of a store: the store flags given, as given."""
    given = getattr(args, GIVEN)
    return {_keyword(dest): getattr(args, dest) for dest in given if dest != "format"}


def _refuse_flags(given: Mapping[str, str], out: str, store_format: str | None) -> None:
    """Name the first flag given that the chosen output does not take."""
    for dest, flag in given.items():
        keyword = _keyword(dest)
        if store_format is None and keyword in STORE_ONLY_KEYWORDS:
            raise ValueError(
                f"{flag} applies to a Cellucid-ready store only, and OUT {out!r} is an export "
                f"folder: end OUT in .zarr, .zarr.zip or .h5ad (or pass --format) to write a "
                f"store, or drop {flag}."
            )
        if store_format is not None and keyword not in STORE_KEYWORDS:
            raise ValueError(
                f"{flag} applies to export folders only, and OUT {out!r} is a Cellucid-ready "
                f"store ({store_format}): drop {flag}, or name a folder as OUT (or pass "
                "--format folder) to write an export folder."
            )


#: single-word keywords that are also everyday words: never rewritten as flags
_PROSE = frozenset({"format", "force", "quiet", "progress"})


def store_terms(message: str) -> str:
    """A store's message with its keyword spellings as this command's flags.

    ``latent_key must ...`` becomes ``--latent-key must ...``, ``pass dataset_id=.``
    ``pass --dataset-id.`` and ``format="h5ad"`` ``--format h5ad``.
    """
    flags = {keyword: keyword.replace("_", "-") for keyword in STORE_KEYWORDS}
    flags |= {keyword: dest.replace("_", "-") for dest, keyword in _KEYWORD_OF.items()}
    for keyword in sorted(STORE_KEYWORDS - _PROSE, key=len, reverse=True):
        message = re.sub(
            rf"\b{keyword}\b(=(?=[\w'\"\[{{(]))?=?",
            lambda m, flag=flags[keyword]: f"--{flag}" + (" " if m.group(1) else ""),
            message,
        )
    message = re.sub(r"\bformat=([\"'])([\w.]+)\1", r"--format \2", message)
    return re.sub(r"\bout_path\b", "OUT", message)


def run(args: argparse.Namespace) -> int:
    """Run the export; errors are one line on stderr and exit code 1."""
    from cellucid.anndata_input import prepare_anndata
    from cellucid.anndata_store import output_format
    from cellucid.engine.lock import ExportLockedError

    store_format = None
    try:
        store_format = output_format(args.out_dir, args.format)
        _refuse_flags(getattr(args, GIVEN), args.out_dir, store_format)
        if store_format is None:
            prepare_anndata(args.input, args.out_dir, format=args.format, **export_options(args))
        else:
            prepare_anndata(args.input, args.out_dir, format=store_format, **store_options(args))
    except (*EXPORT_ERRORS, ExportLockedError) as error:
        if store_format is not None:
            message = error.args[0] if isinstance(error, KeyError) and error.args else error
            error = ValueError(store_terms(str(message)))
        return print_error("prepare", error)
    return 0
