"""Validation of prepare()'s inputs and options, all of it before anything is written."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dask.array as da
import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from cellucid.checks.checked import CheckedInputs
from cellucid.checks.graph_scan import scan_graph
from cellucid.checks.obs_columns import refuse_repeated_columns, refuse_unstorable_column
from cellucid.checks.request import InputRequest
from cellucid.checks.values import (
    require_distinct_text,
    require_finite,
    require_float32_values,
    require_list,
    require_real,
)
from cellucid.inputs.arrays import as_cell_chunked, is_sparse_array
from cellucid.inputs.obs_fields import (
    CategoricalColumn,
    ContinuousColumn,
    codes_dtype,
    is_categorical,
    obs_keys_of,
    obs_length,
    obs_series,
    read_categorical,
    read_continuous,
    require_one_dimension,
)
from cellucid.inputs.readable import refuse_unreadable
from cellucid.report import on_cli

VECTOR_SUFFIXES = {f"_{d}d": d for d in (1, 2, 3)}


def dense_cells(label: str, x: Any, chunk_rows: int) -> da.Array:
    """A per-cell array (embedding, latent space, vector field) as a dense dask array.

    A DataFrame of numbers gives its values in row order (its index is not aligned to
    anything, as with ``numpy.asarray``); sparse input is densified block by block (these
    arrays are a few columns wide). A DataFrame with other columns is refused by name.
    """
    if isinstance(x, pd.Series):
        x = x.to_frame()
    if isinstance(x, pd.DataFrame):
        other = [str(c) for c, t in x.dtypes.items() if not ptypes.is_numeric_dtype(t)]
        if other or any(ptypes.is_bool_dtype(t) for t in x.dtypes):
            raise TypeError(
                f"{label} is a DataFrame with columns that are not numbers "
                f"({', '.join(other[:3]) or 'booleans'}): pass the numeric coordinates as an "
                "array, e.g. df[['x', 'y']].to_numpy()."
            )
        x = x.to_numpy()
    wrapped = as_cell_chunked(x, chunk_rows, label=label)
    if is_sparse_array(wrapped):
        wrapped = wrapped.map_blocks(
            _to_dense, dtype=wrapped.dtype, meta=np.empty((0,) * wrapped.ndim, wrapped.dtype)
        )
    return wrapped


def _to_dense(block: Any) -> np.ndarray:
    return block.toarray()


def check_embeddings(
    candidates: dict[int, Any], x_umap_4d: Any, chunk_rows: int
) -> tuple[int, dict[int, da.Array]]:
    """The embeddings as dask arrays, after the shape, agreement and finiteness checks."""
    if x_umap_4d is not None:
        raise NotImplementedError(
            "4D visualization is not yet implemented. The X_umap_4d parameter is reserved; "
            "use X_umap_1d, X_umap_2d or X_umap_3d."
        )
    given = {d: x for d, x in candidates.items() if x is not None}
    if not given:
        raise ValueError(
            "At least one dimensional embedding must be provided. "
            "Use X_umap_1d, X_umap_2d, or X_umap_3d."
        )
    arrays: dict[int, da.Array] = {}
    n_cells: int | None = None
    for d in sorted(given):
        x = dense_cells(f"X_umap_{d}d", given[d], chunk_rows)
        require_real(f"X_umap_{d}d", x)
        if x.ndim != 2 or x.shape[1] != d:
            raise ValueError(f"X_umap_{d}d must have shape (n_cells, {d}), got shape {x.shape}.")
        if n_cells is None:
            n_cells = x.shape[0]
        elif x.shape[0] != n_cells:
            raise ValueError(
                "All embeddings must have the same number of cells. "
                f"The first embedding has {n_cells} cells, but X_umap_{d}d has {x.shape[0]}."
            )
        arrays[d] = x
    if not n_cells:
        raise ValueError(
            "The embeddings have 0 cells: there is nothing to export. Pass arrays with at "
            "least one row (did a filter remove every cell?)."
        )
    for d, x in arrays.items():
        require_finite(f"X_umap_{d}d", x)
    return n_cells, arrays


def check_latent(
    latent_space: Any, n_cells: int, chunk_rows: int, needed_by: Sequence[str]
) -> da.Array | None:
    """The latent space as a 2-D dask array with one row per cell, or None when unused.

    Only the outlier quantiles of categorical obs fields are computed in the latent space
    (``needed_by`` names those fields): without one, ``latent_space`` may be left out, and
    one given anyway is checked but not used (nor recorded, so leaving it out later
    resumes the same export).
    """
    if latent_space is None:
        if not needed_by:
            return None
        many = len(needed_by) > 1
        names = ", ".join(repr(k) for k in needed_by[:3]) + (", ..." if len(needed_by) > 3 else "")
        raise ValueError(
            "latent_space is required for outlier quantile calculation. The categorical obs "
            f"field{'s' if many else ''} {names} get{'' if many else 's'} outlier quantiles "
            "measured in it: pass latent_space (e.g. adata.obsm['X_pca']), or leave "
            f"{'those fields' if many else 'it'} out with obs_keys."
        )
    latent = dense_cells("latent_space", latent_space, chunk_rows)
    if latent.ndim == 1:
        latent = latent[:, None]
    if latent.ndim != 2 or latent.shape[0] != n_cells:
        raise ValueError(
            f"latent_space must have shape (n_cells, n_dims) with {n_cells} rows, "
            f"got shape {latent.shape}."
        )
    if latent.shape[1] == 0 and needed_by:
        # refused here: the outlier pass would fail mid-export, after files were written
        raise ValueError(
            f"latent_space has {n_cells} rows but 0 columns; the outlier quantiles of "
            "categorical obs fields are distances in it. Pass a latent space with columns "
            "(e.g. adata.obsm['X_pca']; prepare_anndata: latent_key names the obsm entry), "
            "or leave the categorical fields out with obs_keys."
        )
    require_real("latent_space", latent)
    require_finite("latent_space", latent)
    return latent if needed_by else None


def check_obs(
    obs: Any, obs_keys: Sequence[str] | None, n_cells: int, codes_request: str
) -> tuple[pd.DataFrame, list[CategoricalColumn | ContinuousColumn], dict[str, str]]:
    """The exported obs columns, read one at a time and checked.

    ``obs`` may be a DataFrame, an xarray Dataset or AnnData's lazy obs. Returns a small
    DataFrame of the exported columns (for the fingerprint), the columns and code dtypes.
    """
    if obs is None:
        obs = pd.DataFrame(index=pd.RangeIndex(n_cells))
    available = obs_keys_of(obs)
    require_one_dimension(obs)
    if obs_length(obs) != n_cells:
        raise ValueError(f"obs has {obs_length(obs)} rows, but embeddings have {n_cells} cells.")
    refuse_repeated_columns(available)
    require_list("obs_keys", obs_keys)
    keys = list(available) if obs_keys is None else list(obs_keys)
    missing = [k for k in keys if k not in available]
    if missing:
        raise KeyError(
            f"obs_keys contain columns not in obs: {missing}. Available columns: {available}"
        )
    if len(set(keys)) != len(keys):
        raise ValueError(f"obs_keys lists a column more than once: {keys}.")
    require_distinct_text("obs columns", keys)
    columns: list[CategoricalColumn | ContinuousColumn] = []
    dtypes: dict[str, str] = {}
    table: dict[str, Any] = {}
    for key in keys:
        series = obs_series(obs, key)
        refuse_unstorable_column(str(key), series)
        if is_categorical(series):
            column = read_categorical(str(key), series)
            try:
                dtypes[str(key)] = codes_dtype(len(column.categories), codes_request)
            except ValueError as error:
                raise ValueError(f"obs column '{key}': {error}") from None
            table[str(key)] = column.codes
            columns.append(column)
        else:
            column = read_continuous(str(key), series)
            require_float32_values(f"obs column '{key}'", column.values)
            table[str(key)] = column.values
            columns.append(column)
    return pd.DataFrame(table, index=pd.RangeIndex(n_cells)), columns, dtypes


def _refuse_repeated_genes(requested: list[str]) -> None:
    seen: set[str] = set()
    repeated = list(dict.fromkeys(g for g in requested if g in seen or seen.add(g)))
    if repeated:
        parameter = "--genes" if on_cli() else "gene_identifiers"
        raise ValueError(
            f"{parameter} lists {', '.join(repr(g) for g in repeated[:5])} more than once: "
            "list each gene once."
        )


def check_genes(
    gene_expression: Any,
    var: pd.DataFrame | None,
    var_gene_id_column: str,
    gene_identifiers: Sequence[str] | None,
    n_cells: int,
    chunk_rows: int,
) -> tuple[da.Array, list[str], np.ndarray, list[str]]:
    """The matrix, the exported gene ids, their matrix columns and the unknown ids."""
    if var is None:
        raise ValueError("var is required if gene_expression is provided")
    if not (hasattr(var, "index") and hasattr(var, "columns")):
        raise TypeError(
            f"var must be a pandas DataFrame with one row per gene (the gene ids in its index, "
            f"or in the column var_gene_id_column names), got {type(var).__name__}. For a "
            "list of gene names, pass var=pd.DataFrame(index=names)."
        )
    matrix = as_cell_chunked(gene_expression, chunk_rows, label="gene_expression")
    require_real("gene_expression", matrix)
    require_list("gene_identifiers", gene_identifiers)
    if matrix.ndim != 2 or matrix.shape[0] != n_cells:
        raise ValueError(
            f"gene_expression must have shape (n_cells, n_genes) with {n_cells} rows, "
            f"got shape {matrix.shape}."
        )
    if len(var) != matrix.shape[1]:
        raise ValueError(
            f"var has {len(var)} rows, but gene_expression has {matrix.shape[1]} genes (columns)."
        )
    if var_gene_id_column == "index":
        all_ids = [str(v) for v in var.index]
    elif var_gene_id_column in var.columns:
        all_ids = [str(v) for v in var[var_gene_id_column]]
    else:
        raise KeyError(
            f"var_gene_id_column '{var_gene_id_column}' is not a column of var. "
            f"Use 'index' or one of: {list(var.columns)}"
        )
    position: dict[str, int] = {}
    for index, gene in enumerate(all_ids):
        position.setdefault(gene, index)
    unknown: list[str] = []
    if gene_identifiers is None:
        ids = all_ids
    else:
        requested = [str(g) for g in gene_identifiers]
        _refuse_repeated_genes(requested)
        unknown = [g for g in requested if g not in position]
        ids = [g for g in requested if g in position]
    seen: set[str] = set()
    duplicates = [g for g in ids if g in seen or seen.add(g)]
    if duplicates:
        raise ValueError(
            f"Gene ids must be unique, but {duplicates[:5]} appear more than once; "
            "choose another var_gene_id_column or make the ids unique (var_names_make_unique)."
        )
    columns = np.array([position[g] for g in ids], dtype=np.int64)
    return matrix, ids, columns, unknown


def check_connectivities(
    connectivities: Any, n_cells: int, chunk_rows: int
) -> tuple[da.Array, int]:
    """The connectivity matrix as a dask array of n × n, and its edges at least."""
    matrix = as_cell_chunked(connectivities, chunk_rows, label="connectivities")
    require_real("connectivities", matrix)
    if matrix.shape != (n_cells, n_cells):
        raise ValueError(
            f"connectivities must be a square matrix of {n_cells} × {n_cells} cells, "
            f"got shape {matrix.shape}."
        )
    scan = scan_graph(matrix)
    if scan.first_bad is not None:
        row, col, value = scan.first_bad
        raise ValueError(
            f"connectivities must hold finite, non-negative weights, but entry ({row}, {col}) "
            f"is {value}. Fix or drop those entries (e.g. set them to 0) first."
        )
    return matrix, scan.min_edges


def check_vector_fields(
    vector_fields: Any, n_cells: int, chunk_rows: int
) -> dict[str, dict[int, da.Array]]:
    """Vector fields by field id and dimension (explicit ``_<d>d`` names win)."""
    if vector_fields is None:
        return {}
    if not isinstance(vector_fields, Mapping):
        raise TypeError(
            "vector_fields must be a mapping of names to arrays, "
            f"got {type(vector_fields).__name__}."
        )
    explicit: dict[str, dict[int, da.Array]] = {}
    implicit: dict[str, dict[int, da.Array]] = {}
    for name in vector_fields:
        x = dense_cells(f"vector_fields[{name!r}]", vector_fields[name], chunk_rows)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] not in (1, 2, 3):
            raise ValueError(
                f"Vector field '{name}' must have 1/2/3 components, got shape {x.shape}"
            )
        if x.shape[0] != n_cells:
            raise ValueError(
                f"Vector field '{name}' has {x.shape[0]} rows, but embeddings have {n_cells} cells."
            )
        require_real(f"vector_fields[{name!r}]", x)
        require_finite(f"vector_fields[{name!r}]", x)
        name = str(name)
        suffix_dim = next((d for s, d in VECTOR_SUFFIXES.items() if name.endswith(s)), None)
        if suffix_dim is not None:
            field_id, target = name[: -len("_1d")], explicit
            if x.shape[1] != suffix_dim:
                raise ValueError(
                    f"Vector field '{name}' is named {suffix_dim}D but has shape {x.shape}."
                )
        else:
            field_id, target = name, implicit
        target.setdefault(field_id, {})[x.shape[1]] = x
    merged = {fid: dict(dims) for fid, dims in implicit.items()}
    for field_id, dims in explicit.items():
        for dim in dims:
            if dim in merged.get(field_id, {}):
                raise ValueError(
                    f"vector_fields holds {field_id!r} and {f'{field_id}_{dim}d'!r}, both the "
                    f"{dim}D field {field_id!r}: one would silently replace the other. Pass "
                    "only one of them (or rename the other field)."
                )
        merged.setdefault(field_id, {}).update(dims)
    return merged


def refuse_unreadable_inputs(given: InputRequest) -> None:
    """Inputs that cannot be read as given (unknown dask chunks, closed h5py files), named
    by parameter before anything else reads them.

    Raises
    ------
    ValueError
        From :func:`~cellucid.inputs.readable.refuse_unreadable`.
    """
    arrays = {f"X_umap_{d}d": x for d, x in given.embeddings.items()} | {
        "latent_space": given.latent_space,
        "gene_expression": given.gene_expression,
        "connectivities": given.connectivities,
    }
    if isinstance(given.vector_fields, Mapping):
        arrays |= {f"vector_fields[{k!r}]": x for k, x in given.vector_fields.items()}
    for label, x in arrays.items():
        if x is not None:
            refuse_unreadable(x, label)


def check_inputs(
    given: InputRequest, chunk_rows: int, *, var_gene_id_column: str, codes_request: str
) -> CheckedInputs:
    """Every data input of prepare() checked and wrapped, in the order a user fixes them.

    The order is the documented one (docs/validation.md): the embeddings (they set the
    number of cells), obs, the latent space (only needed for categorical obs fields, so
    after obs), the genes with var, the connectivities, the vector fields. Each input's
    own error comes first; a missing latent space never hides another input's error.

    ``var_gene_id_column`` names the var column of the gene ids; ``codes_request`` is the
    ``obs_categorical_dtype`` option (auto, uint8 or uint16).
    """
    n_cells, embeddings = check_embeddings(given.embeddings, given.X_umap_4d, chunk_rows)
    obs_frame, obs_columns, codes_dtypes = check_obs(
        given.obs, given.obs_keys, n_cells, codes_request
    )
    categorical = [c.key for c in obs_columns if isinstance(c, CategoricalColumn)]
    latent = check_latent(given.latent_space, n_cells, chunk_rows, categorical)
    optional: dict[str, Any] = {}
    if given.gene_expression is not None:
        matrix, ids, columns, unknown = check_genes(
            given.gene_expression,
            given.var,
            var_gene_id_column,
            given.gene_identifiers,
            n_cells,
            chunk_rows,
        )
        optional = {
            "matrix": matrix,
            "matrix_source": given.gene_expression,
            "gene_ids": tuple(ids),
            "gene_columns": columns,
            "n_matrix_genes": matrix.shape[1],
            "unknown_genes": tuple(unknown),
        }
    if given.connectivities is not None:
        optional["connectivities"], optional["graph_edges"] = check_connectivities(
            given.connectivities, n_cells, chunk_rows
        )
    return CheckedInputs(
        n_cells=n_cells,
        embeddings=embeddings,
        latent=latent,
        obs=obs_frame,
        obs_columns=tuple(obs_columns),
        codes_dtypes=codes_dtypes,
        vectors=check_vector_fields(given.vector_fields, n_cells, chunk_rows),
        **optional,
    )
