"""The front door for AnnData: an in-memory AnnData, a ``.h5ad`` path or a Zarr store.

Files are never loaded whole: obs and var are read (they are per-cell and per-gene
tables), while X, layers, obsm and obsp arrays become lazy readers that the engine
streams (see :mod:`cellucid.inputs.store_arrays`). The usual keys map to prepare():
embeddings from ``obsm["X_umap"]`` (by width) and ``obsm["X_umap_<d>d"]``, the latent
space from ``X_pca`` / ``X_scvi``, ``obsp["connectivities"]``, and vector fields from
obsm keys ``<field>_umap`` / ``<field>_umap_<d>d`` (see :mod:`cellucid.inputs.embedding_choice`).
"""

from __future__ import annotations

import codecs
import logging
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cellucid.anndata_store import (
    output_format,
    prepare_store,
    refuse_folder_keywords,
    refuse_store_keywords,
)
from cellucid.checks.out_path import output_path
from cellucid.checks.paths import refuse_output_in_input
from cellucid.errors import InputFileError, InputNotFoundError
from cellucid.inputs.embedding_choice import choose_embedding_keys, choose_vector_fields
from cellucid.inputs.obs_fields import in_memory_table
from cellucid.options import front_door_values, plain_value
from cellucid.report import Reporter, count, on_cli

LATENT_PREFERENCE = ("X_pca", "X_scvi")


@dataclass(frozen=True)
class AnnDataParts:
    """What the exporter needs of an AnnData, with arrays left lazy where they are on disk."""

    obs: pd.DataFrame
    var: pd.DataFrame
    X: Any
    layers: Mapping[str, Any]
    obsm: Mapping[str, Any]
    obsp: Mapping[str, Any]
    description: str
    notes: tuple[str, ...] = ()


Loader = Callable[[Any], AnnDataParts]
_LOADERS: list[tuple[Callable[[Any], bool], Loader]] = []


def register_loader(accepts: Callable[[Any], bool], load: Loader) -> None:
    """Register a way to read one kind of AnnData source."""
    _LOADERS.append((accepts, load))


def _is_anndata(x: Any) -> bool:
    # an AnnData exists only once anndata was imported: a path never imports it here
    ad = sys.modules.get("anndata")
    return ad is not None and isinstance(x, getattr(ad, "AnnData", ()))


def _backed_x(adata: Any) -> Any:
    """A reader by path of a backed AnnData's X; of a view's rows and columns, in the
    view's order, for a view (read block by block, never whole)."""
    from cellucid.checks.paths import check_inside_input
    from cellucid.inputs.store_arrays import RowsReader, open_array, view_index

    check_inside_input(Path(adata.filename), "h5", getattr(adata.file, "_file", None))
    # the backed dataset holds an h5py handle; a reader by path also pickles
    x = open_array(adata.filename, "X")
    if not adata.is_view:
        return x
    n_rows, n_columns = x.shape[0], x.shape[1]
    rows = view_index(adata._oidx, n_rows)
    columns = view_index(adata._vidx, n_columns)
    if rows is None and columns is None:
        return x
    rows = np.arange(n_rows, dtype=np.int64) if rows is None else rows
    return RowsReader(x, rows, columns)


def _load_anndata(adata: Any) -> AnnDataParts:
    x = _backed_x(adata) if adata.isbacked else adata.X
    return AnnDataParts(
        obs=adata.obs,  # a lazy AnnData's obs is read one column at a time
        var=in_memory_table(adata.var),
        X=x,
        layers=dict(adata.layers),
        obsm=dict(adata.obsm),
        obsp=dict(adata.obsp),
        description=f"backed AnnData {adata.filename}" if adata.isbacked else "AnnData in memory",
    )


def _is_store_path(x: Any) -> bool:
    return isinstance(x, (str, Path))


def _read_table(root: Any, name: str) -> pd.DataFrame:
    from cellucid.inputs.h5_frames import read_h5_frame
    from cellucid.inputs.legacy_anndata import is_group, read_frame

    node = root[name]
    if not is_group(node):
        return read_frame(node)
    frame = read_h5_frame(node) if type(node).__module__.startswith("h5py") else None
    if frame is not None:  # read without importing anndata (and its zarr, xarray)
        return frame
    from anndata import OldFormatWarning
    from anndata.io import read_elem

    with warnings.catch_warnings():
        # anndata warns once per column of a 0.7 table; those still read exactly
        warnings.simplefilter("ignore", OldFormatWarning)
        return read_elem(node)


def _members(root: Any, path: str, group: str) -> dict[str, Any]:
    """Lazy readers of a group's arrays (old files' structured obsm is read whole)."""
    from cellucid.inputs.legacy_anndata import is_group, read_structured_members
    from cellucid.inputs.store_arrays import open_array

    if group not in root:
        return {}
    if not is_group(root[group]):
        return read_structured_members(root[group])
    members = {}
    for name in root[group]:
        node = root[group][name]
        if is_group(node) and node.attrs.get("encoding-type") == "dataframe":
            # an obsm table (one row per cell, a few columns): read whole, used as its values
            members[name] = _read_table(root, f"{group}/{name}")
        else:
            members[name] = open_array(path, f"{group}/{name}")
    return members


def _graphs(root: Any, path: str) -> dict[str, Any]:
    from cellucid.inputs.legacy_anndata import graph_paths
    from cellucid.inputs.store_arrays import open_array

    graphs = _members(root, path, "obsp")
    # as anndata does, a matrix left in uns/neighbors by old scanpy wins over obsp
    graphs.update({key: open_array(path, at) for key, at in graph_paths(root).items()})
    return graphs


def _load_store(path: str | Path) -> AnnDataParts:
    from cellucid.checks.paths import check_anndata_root, check_input_path, check_inside_input
    from cellucid.inputs.legacy_anndata import LEGACY_NOTE, apply_uns_categories, is_legacy
    from cellucid.inputs.store_arrays import open_array, open_store

    # the end of start-up in a benchmark's phase table: the input's first byte is read next
    logging.getLogger("cellucid.engine").info("mark input")
    path = Path(path)
    kind = check_input_path(path)
    resolved = str(path.resolve())
    root = open_store(resolved, kind)
    check_inside_input(path, kind, root)
    check_anndata_root(root, path, kind)
    obs, var = _read_table(root, "obs"), _read_table(root, "var")
    legacy = is_legacy(root)
    if legacy:
        apply_uns_categories(root, [obs, var])
    return AnnDataParts(
        obs=obs,
        var=var,
        X=open_array(resolved, "X") if "X" in root else None,
        layers=_members(root, resolved, "layers"),
        obsm=_members(root, resolved, "obsm"),
        obsp=_graphs(root, resolved),
        description=f"{'h5ad file' if kind == 'h5' else 'Zarr store'} {path}",
        notes=(LEGACY_NOTE,) if legacy else (),
    )


register_loader(_is_anndata, _load_anndata)
register_loader(_is_store_path, _load_store)


def load_parts(source: Any) -> AnnDataParts:
    """Read an AnnData source with the loader registered for its kind."""
    for accepts, load in _LOADERS:
        if accepts(source):
            return load(source)
    raise TypeError(
        f"Cannot read {type(source).__name__}: pass an AnnData, a .h5ad path or a Zarr store path."
    )


def choose_latent(obsm: Mapping[str, Any], requested: str | None, fallback: str) -> str:
    """The obsm key of the latent space: the requested one, X_pca, X_scvi, else the embedding."""
    if requested is not None:
        if requested not in obsm:
            raise KeyError(
                f"obsm has no latent space '{requested}'. Available obsm keys: {sorted(obsm)}"
            )
        return requested
    for key in LATENT_PREFERENCE:
        if key in obsm:
            return key
    return fallback


def choose_embeddings(
    parts: AnnDataParts,
    embedding_keys: Sequence[str],
    latent_key: str | None,
    reporter: Reporter,
    explicit: Mapping[int, str] | None = None,
) -> tuple[dict[int, str], str]:
    """obsm keys of the embedding per dimension and of the latent space, said in one line."""
    choice = choose_embedding_keys(parts.obsm, embedding_keys, explicit)
    embeddings = choice.keys
    if not embeddings:
        raise ValueError(
            "No embedding found: obsm has no X_umap, X_umap_1d, X_umap_2d or X_umap_3d. "
            f"Name one with embedding_keys (available obsm keys: {sorted(parts.obsm)})."
        )
    latent = choose_latent(parts.obsm, latent_key, embeddings[max(embeddings)])
    reporter.say(
        f"Reading {parts.description}: {count(len(parts.obs), 'cell')} × "
        f"{count(len(parts.var), 'gene')}"
    )
    for note in parts.notes:
        reporter.say(f"  {note}")
    reporter.say(
        "  embeddings: "
        + ", ".join(f"{d}D from obsm['{k}']" for d, k in sorted(embeddings.items()))
        + f"; latent space: obsm['{latent}']"
    )
    for warning in choice.warnings:
        reporter.say(f"  ⚠ {warning}")
    return embeddings, latent


def choose_matrix(parts: AnnDataParts, layer: str | None) -> Any:
    """The expression matrix: X, or the named layer.

    Raises
    ------
    ValueError
        No X and no layer named while the input has layers: the expression is likely in
        one of them, and exporting no genes without a word would hide that.
    """
    if layer is None:
        if parts.X is None and parts.layers:
            names = sorted(parts.layers)
            if on_cli():
                fixes = f"--layer {names[0]} to export that layer, or --no-genes"
            else:
                fixes = f"layer={names[0]!r} to export that layer, or include_genes=False"
            raise ValueError(
                f"The {parts.description} has no X, so no gene would be exported; its "
                f"expression is likely in a layer ({', '.join(names)}): pass {fixes} to "
                "export no genes."
            )
        return parts.X
    if layer not in parts.layers:
        raise KeyError(f"No layer '{layer}'. Available layers: {sorted(parts.layers)}")
    return parts.layers[layer]


def choose_graph(parts: AnnDataParts, key: str | None) -> Any:
    """The KNN graph from obsp (None when absent under the default key, or not wanted)."""
    if key is None:
        return None
    if key in parts.obsp:
        return parts.obsp[key]
    if key != "connectivities":
        raise KeyError(f"obsp has no key '{key}'. Available obsp keys: {sorted(parts.obsp)}")
    return None


def _gene_list_text(path: Path, parameter: str) -> str:
    """The text of a genes file: UTF-8 (a byte-order mark dropped) or UTF-16 with its mark."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputNotFoundError(
            f"{parameter} {str(path)!r} does not exist: give a text file with one gene id per "
            "line."
        ) from None
    except OSError as error:
        raise InputFileError(
            f"{parameter} {str(path)!r} cannot be read ({error.strerror}): give a text file "
            "with one gene id per line."
        ) from None
    utf16 = raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    try:
        # utf-8-sig drops the mark spreadsheet programs put first; utf-16 reads its own
        text = raw.decode("utf-16" if utf16 else "utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputFileError(
            f"{parameter} {str(path)!r} is not UTF-8 text (byte {error.start} cannot be "
            "decoded): save it as UTF-8 plain text, one gene id per line."
        ) from None
    if "\0" in text:
        raise InputFileError(
            f"{parameter} {str(path)!r} holds NUL characters (UTF-16 text without a byte-order "
            "mark?): save it as UTF-8 plain text, one gene id per line."
        )
    return text


def read_gene_list(path: str | Path) -> list[str]:
    """Gene ids from a text file, one per line (blank lines and ``#`` comments ignored).

    UTF-8 with or without a byte-order mark, or UTF-16 with one; any line ending.

    Raises
    ------
    InputNotFoundError, InputFileError
        No such file, not readable, not text; naming the file.
    ValueError
        An id listed twice (with its line numbers).
    """
    parameter = "--genes-file" if on_cli() else "genes_file"
    path = Path(path).expanduser()
    lines = _gene_list_text(path, parameter).splitlines()
    genes: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        gene = line.strip()
        if not gene or gene.startswith("#"):
            continue
        if gene in genes:
            raise ValueError(
                f"{parameter} {str(path)!r} lists {gene!r} twice (lines {genes[gene]} and "
                f"{number}): list each gene once."
            )
        genes[gene] = number
    return list(genes)


def _vectors(
    parts: AnnDataParts,
    embeddings: Mapping[int, str],
    vector_keys: Mapping[str, str] | None,
    reporter: Reporter,
) -> dict[str, Any]:
    vectors, skipped = choose_vector_fields(parts.obsm, embeddings, vector_keys)
    for line in skipped:
        reporter.say(f"  ⚠ {line}")
    return vectors


#: prepare_anndata's own export-folder parameters, with the values that mean "not given"
_FOLDER_PARAMETERS = {
    "embedding_keys": (),
    "embeddings": None,
    "connectivities_key": "connectivities",
    "layer": None,
    "include_genes": True,
    "include_vector_fields": True,
    "vector_keys": None,
}
#: prepare_anndata's own parameters a store takes
_STORE_PARAMETERS = ("latent_key", "obs_keys", "gene_identifiers")


def _is_given(value: Any, default: Any) -> bool:
    if default in ((), None) and not value:
        return False  # an empty list or mapping asks for nothing (the CLI's defaults)
    return not (value is default or value == default)


def _store_keywords(named: dict[str, Any], store_format: str) -> dict[str, Any]:
    """The store keywords of one prepare_anndata call (its folder keywords refused)."""
    options = named["options"]
    given = {k: named[k] for k, d in _FOLDER_PARAMETERS.items() if _is_given(named[k], d)}
    refuse_folder_keywords(given | options, named["out_dir"], store_format)
    keywords = {k: named[k] for k in _STORE_PARAMETERS if named[k] is not None}
    if named["genes_file"] is not None:
        keywords["gene_identifiers"] = read_gene_list(named["genes_file"])
    return keywords | options


def _as_given(
    adata: Any, out_dir: str | Path | None, options: dict[str, Any]
) -> tuple[Any, Path | None, dict[str, Any]]:
    """The paths as meant (``~`` expanded, the output checked and absolute) and numpy
    scalar options as Python numbers."""
    if out_dir is not None:
        out_dir = output_path(out_dir, "OUT" if on_cli() else "out_dir")
    if isinstance(adata, str | os.PathLike):
        adata = Path(adata).expanduser()  # as for the output; the shell may not have
    return adata, out_dir, {name: plain_value(value) for name, value in options.items()}


def prepare_anndata(
    adata: Any,
    out_dir: str | Path | None = None,
    *,
    embedding_keys: Sequence[str] = (),
    embeddings: Mapping[int, str] | None = None,
    latent_key: str | None = None,
    connectivities_key: str | None = "connectivities",
    layer: str | None = None,
    obs_keys: Sequence[str] | None = None,
    gene_identifiers: Sequence[str] | None = None,
    genes_file: str | Path | None = None,
    include_genes: bool = True,
    include_vector_fields: bool = True,
    vector_keys: Mapping[str, str] | None = None,
    format: str | None = None,  # noqa: A002 - prepare()'s keyword
    quiet: bool = False,
    **options: Any,
) -> Path:
    """Export an AnnData, a ``.h5ad`` file (read backed) or an AnnData Zarr store.

    To an export folder, or, when the output ends in ``.zarr``, ``.zarr.zip`` or ``.h5ad``,
    to the Cellucid-ready store ``cellucid.prepare(out, format=..., data=adata)`` writes
    (a path is opened lazily: X is streamed) (:mod:`cellucid.anndata_store`).

    Parameters
    ----------
    adata
        An ``anndata.AnnData`` (in memory or backed) or the path of a ``.h5ad`` file or
        a Zarr store.
    out_dir
        Output folder (default ``exports`` under the current directory), or the path of
        a Cellucid-ready store: ``NAME.zarr``, ``NAME.zarr.zip`` or ``NAME.h5ad``. A
        leading ``~`` is the home folder; environment variables (``$HOME``) are not
        expanded and are refused (docs/validation.md, "Output paths").
    embedding_keys, embeddings
        Other obsm keys to export as embeddings by their width (``["X_tsne"]``, replacing
        a UMAP of that width with a warning), or the obsm key per dimension
        (``{2: "X_tsne"}``, always used). The whole rule: :mod:`cellucid.inputs.embedding_choice`.
    latent_key
        obsm key of the latent space; default ``X_pca``, then ``X_scvi``, else the
        highest-dimensional embedding (a message says which was used).
    connectivities_key
        obsp key of the KNN graph; ``None`` exports no connectivity.
    layer, obs_keys
        Layer to export instead of X; obs columns to export (default all).
    gene_identifiers, genes_file, include_genes
        Genes to export, as a list or a text file with one id per line; ``False``: none.
    include_vector_fields, vector_keys
        Export obsm ``<field>_umap[_<d>d]`` entries as vector fields where the embedding is
        a UMAP; ``vector_keys`` names others, e.g. ``{"velocity_tsne": "velocity_umap_2d"}``.
    format
        ``"zarr"``, ``"zarr.zip"`` or ``"h5ad"`` for a store, ``"folder"`` for an export
        folder; default: chosen by the output's name.
    quiet
        Print nothing but errors.
    **options
        Any other :func:`cellucid.prepare` option (compression, var_quantization, ...).
        Options not given take the front-door defaults of :mod:`cellucid.options` (gzip
        level 6 and 8-bit genes), the same as the CLI's. A store takes upstream 0.9.5's
        keywords (dataset_id, dataset_name, citation_text, zarr_format, force, ...); its
        dataset name defaults to the output's name, its id to the name in id form and its
        latent space to ``X_pca`` or ``X_scvi``, unless ``uns['cellucid']`` holds them.

    Returns
    -------
    pathlib.Path
        The export folder or the store.
    """
    adata, out_dir, options = _as_given(adata, out_dir, options)
    if out_dir is not None:
        refuse_output_in_input(out_dir, adata, "OUT" if on_cli() else "out_dir")
    named = dict(locals())
    store_format = output_format(out_dir, format)
    if store_format is not None:
        keywords = _store_keywords(named, store_format)
        return prepare_store(adata, out_dir, store_format, keywords, quiet=quiet)
    refuse_store_keywords(options)
    return _export_folder(named)


def _export_folder(named: dict[str, Any]) -> Path:
    """prepare_anndata to an export folder (``named``: its arguments by name)."""
    from cellucid.checks.paths import check_out_dir
    from cellucid.exporter import prepare

    out_dir, quiet, gene_identifiers = named["out_dir"], named["quiet"], named["gene_identifiers"]
    check_out_dir(out_dir)
    parts, reporter = load_parts(named["adata"]), Reporter(quiet)
    chosen, latent = choose_embeddings(
        parts, named["embedding_keys"], named["latent_key"], reporter, named["embeddings"]
    )
    matrix = choose_matrix(parts, named["layer"]) if named["include_genes"] else None
    if matrix is None and named["include_genes"]:
        reporter.say(f"  ⚠ the {parts.description} has no X: no gene expression is exported.")
    if named["genes_file"] is not None:
        gene_identifiers = read_gene_list(named["genes_file"])
    vectors = (
        _vectors(parts, chosen, named["vector_keys"], reporter)
        if named["include_vector_fields"]
        else {}
    )
    return prepare(
        latent_space=parts.obsm[latent],
        obs=parts.obs,
        var=parts.var if matrix is not None else None,
        gene_expression=matrix,
        gene_identifiers=gene_identifiers,
        connectivities=choose_graph(parts, named["connectivities_key"]),
        out_dir=out_dir,
        obs_keys=named["obs_keys"],
        vector_fields=vectors or None,
        **{f"X_umap_{d}d": parts.obsm[k] for d, k in chosen.items()},
        **front_door_values(named["options"] | {"quiet": quiet}),
    )
