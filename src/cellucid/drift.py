"""Drift vector fields from cell-cell transition matrices (e.g. CellRank kernels).

The drift of a cell is where one step of the transition matrix ``T`` takes it on average,
minus where it is: ``T·X / rowsum(T) − X`` for an embedding ``X``. The matrix is read in
blocks of whole rows, so a sparse matrix of a million cells (in memory, backed or on disk)
never needs an ``n × n`` dense array; only the ``n × dim`` result is held whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dask.array as da
import numpy as np

from cellucid.inputs.arrays import as_cell_chunked, is_sparse_array

if TYPE_CHECKING:
    import anndata

DEFAULT_CHUNK_ROWS = 16_384
# a block of a dense matrix holds whole rows of n values: keep it near this size
_DENSE_BLOCK_BYTES = 64 * 2**20


def compute_transition_drift(
    transition_matrix: Any,
    embedding: Any,
    *,
    normalize_rows: bool = True,
    chunk_size: int = DEFAULT_CHUNK_ROWS,
) -> np.ndarray:
    """Per-cell drift vectors of a transition matrix in an embedding.

    ``drift = T·X / rowsum(T) − X``, the expected position after one step of ``T`` minus
    the current position (same definition and defaults as cellucid 0.0.9).

    Parameters
    ----------
    transition_matrix
        ``(n_cells, n_cells)`` matrix: scipy sparse (CSR, CSC, COO), numpy, dask (dense or
        scipy sparse chunks), an h5py/zarr dataset or an anndata backed sparse dataset.
        It is read in blocks of rows; CSR (or dense) reads fastest.
    embedding
        ``(n_cells, dim)`` coordinates, e.g. ``adata.obsm["X_umap"]``.
    normalize_rows
        Divide each row's expectation by the row sum of ``T``, so a matrix that is not
        exactly row-stochastic still gives a mean position. Rows summing to 0 are divided
        by 1 instead (an empty row gives ``−X``). Without it the drift is ``T·X − X``.
    chunk_size
        Rows of ``T`` per block (fewer for a wide dense matrix, so a block stays ~64 MB).

    Returns
    -------
    numpy.ndarray
        ``float32`` drift vectors with the shape of ``embedding``.

    Raises
    ------
    ValueError
        If ``embedding`` is not 2-D or ``transition_matrix`` is not ``n_cells × n_cells``.
    TypeError
        If ``transition_matrix`` is of a kind that cannot be read.
    """
    points = _embedding_array(embedding)
    matrix = _row_blocks(transition_matrix, points.shape[0], chunk_size)
    expected = matrix.map_blocks(
        _expected_position,
        points,
        normalize_rows,
        dtype=np.float64,
        chunks=(matrix.chunks[0], (points.shape[1],)),
        meta=np.empty((0, 0), dtype=np.float64),
    ).compute()
    return (expected - points).astype(np.float32)


def _embedding_array(embedding: Any) -> np.ndarray:
    if hasattr(embedding, "to_numpy"):  # an obsm entry may be a DataFrame
        embedding = embedding.to_numpy()
    shape = tuple(getattr(embedding, "shape", np.shape(embedding)))
    if len(shape) != 2:
        raise ValueError(f"embedding must be 2D (n_cells, dim), got shape {shape}")
    # float64 so that sums over many neighbours do not lose the small differences
    return np.asarray(as_cell_chunked(embedding, max(shape[0], 1)).compute(), dtype=np.float64)


def _row_blocks(transition_matrix: Any, n_cells: int, chunk_size: int) -> da.Array:
    """The matrix as a dask array of blocks of whole rows, after checking its shape."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive number of rows, got {chunk_size}")
    shape = tuple(getattr(transition_matrix, "shape", np.shape(transition_matrix)))
    if shape != (n_cells, n_cells):
        raise ValueError(
            f"transition_matrix must be a square matrix of {n_cells} × {n_cells} cells "
            f"(one row and one column per embedding row), got shape {shape}"
        )
    matrix = as_cell_chunked(transition_matrix, chunk_size)
    if not is_sparse_array(matrix):
        itemsize = max(matrix.dtype.itemsize, 1)
        rows = max(1, min(chunk_size, _DENSE_BLOCK_BYTES // max(n_cells * itemsize, 1)))
        if rows != chunk_size:
            matrix = as_cell_chunked(transition_matrix, rows)
    return matrix


def _expected_position(block: Any, points: np.ndarray, normalize_rows: bool) -> np.ndarray:
    """``T·X`` for one block of rows of ``T``, divided by the row sums if asked."""
    expected = np.asarray(block @ points, dtype=np.float64)
    if normalize_rows:
        sums = np.asarray(block.sum(axis=1, dtype=np.float64)).reshape(-1)
        # 0.0.9 divides a zero-sum row by 1, keeping T·X as it is
        sums[sums == 0] = 1.0
        expected /= sums[:, None]
    return expected


def add_transition_drift_to_obsm(
    adata: anndata.AnnData,
    transition_matrix: Any,
    *,
    basis: str = "umap",
    field_prefix: str = "T_fwd",
    dim: int | None = None,
    explicit_dim_suffix: bool = True,
    normalize_rows: bool = True,
    overwrite: bool = False,
    chunk_size: int = DEFAULT_CHUNK_ROWS,
) -> str:
    """Compute the drift of a transition matrix and store it in ``adata.obsm``.

    The key is ``<field_prefix>_<basis>_<dim>d`` (e.g. ``T_fwd_umap_2d``), or
    ``<field_prefix>_<basis>`` without ``explicit_dim_suffix``, which is the name
    :func:`cellucid.prepare` expects in ``vector_fields``.

    Parameters
    ----------
    adata
        AnnData whose ``obsm`` holds the embedding; the result is added to it.
    transition_matrix
        ``(n_cells, n_cells)`` matrix (any kind :func:`compute_transition_drift` reads), or
        the name of one in ``adata.obsp``.
    basis
        Embedding basis: the embedding is ``obsm["X_<basis>_<dim>d"]`` or
        ``obsm["X_<basis>"]``.
    field_prefix
        Name of the field, e.g. ``"T_fwd"`` or ``"T_bwd"`` for a backward matrix.
    dim
        Dimensions of the embedding to use. By default the first present of
        ``X_<basis>_3d``, ``X_<basis>_2d``, ``X_<basis>_1d``, then ``X_<basis>`` if it has
        1 to 3 columns.
    explicit_dim_suffix
        Append ``_<dim>d`` to the key (recommended: no clash between dimensions).
    normalize_rows
        See :func:`compute_transition_drift`.
    overwrite
        Replace an existing key instead of raising.
    chunk_size
        Rows of the matrix per block, see :func:`compute_transition_drift`.

    Returns
    -------
    str
        The ``obsm`` key written.

    Raises
    ------
    KeyError
        If no embedding of the basis is found, or the key exists and not ``overwrite``.
    ValueError
        If the embedding does not have ``dim`` columns, or shapes do not match.
    """
    if isinstance(transition_matrix, str):
        transition_matrix = adata.obsp[transition_matrix]
    if dim is None:
        dim = _infer_dim(adata, basis)
    points = _embedding_of(adata, basis, dim)
    base = f"{field_prefix}_{basis}"
    key = f"{base}_{dim}d" if explicit_dim_suffix else base
    if key in adata.obsm and not overwrite:
        raise KeyError(f"adata.obsm already contains key '{key}' (set overwrite=True to replace)")
    adata.obsm[key] = compute_transition_drift(
        transition_matrix, points, normalize_rows=normalize_rows, chunk_size=chunk_size
    )
    return key


def _columns(shape: tuple[int, ...]) -> int | None:
    """Number of columns of an embedding (1 for a vector), None if not 1-D or 2-D."""
    if len(shape) == 1:
        return 1
    return shape[1] if len(shape) == 2 else None


def _infer_dim(adata: anndata.AnnData, basis: str) -> int:
    for candidate in (3, 2, 1):
        key = f"X_{basis}_{candidate}d"
        if key in adata.obsm:
            shape = tuple(adata.obsm[key].shape)
            if _columns(shape) != candidate:
                raise ValueError(f"{key} has shape {shape}, expected (n_cells, {candidate})")
            return candidate
    key = f"X_{basis}"
    if key not in adata.obsm:
        raise KeyError(f"dim not provided and no embedding found: {key} or X_{basis}_{{1,2,3}}d")
    shape = tuple(adata.obsm[key].shape)
    columns = _columns(shape)
    if columns not in (1, 2, 3):
        raise ValueError(f"Cannot infer dim from {key} with shape {shape}")
    return int(columns)


def _embedding_of(adata: anndata.AnnData, basis: str, dim: int) -> Any:
    """The ``dim``-D embedding of ``basis`` as an ``(n_cells, dim)`` array."""
    explicit, bare = f"X_{basis}_{dim}d", f"X_{basis}"
    key = explicit if explicit in adata.obsm else bare
    if key not in adata.obsm:
        raise KeyError(f"Missing embedding in obsm: {explicit} (or {bare})")
    points = adata.obsm[key]
    shape = tuple(points.shape)
    if _columns(shape) != dim:
        raise ValueError(f"{key} is {_columns(shape)}D (shape {shape}), expected {dim}D")
    return np.asarray(points).reshape(shape[0], dim) if len(shape) == 1 else points
