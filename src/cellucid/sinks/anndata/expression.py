"""Where the expression matrix X comes from, described without reading its values.

The matrix is stored gene-major: as a CSC matrix when the input is sparse (a scipy
matrix or array of any format, anndata's backed sparse dataset, a dask array of sparse
blocks), as a dense array otherwise (NumPy, an HDF5 dataset, a Zarr array, a dense dask
array, anything ``numpy.asarray`` takes). Only the metadata is checked here: a 2-D
matrix of real numbers (booleans count) with a row per cell. The values are checked as
they are read (the X scan).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import sparse

from cellucid.inputs.readable import refuse_unreadable

from .values import require_real_dtype

#: What the matrix object is.
Kind = Literal["numpy", "scipy", "backed-sparse", "hdf5", "zarr", "dask"]


# eq=False: it holds matrices and data objects, compared by identity.
@dataclass(frozen=True, eq=False)
class ExpressionSource:
    """The input expression matrix and the genes exported from it.

    Attributes
    ----------
    matrix
        The object to read X from, never read here: a ``numpy.ndarray``; a scipy sparse
        matrix or array; anndata's backed sparse dataset (``format`` ``"csr"`` or
        ``"csc"``, sliced by rows or columns into scipy matrices), for a backed AnnData
        or a store opened here; an ``h5py.Dataset`` or ``zarr.Array`` (dense, on disk);
        a ``dask.array.Array`` (dense or sparse blocks).
    kind
        Which of those ``matrix`` is (:data:`Kind`).
    sparse
        True: X is stored as a CSC matrix (stored zeros dropped, duplicates summed);
        False: as a dense array.
    format
        ``"csr"``, ``"csc"``, ``"coo"``, ... for sparse input (a dask array's block
        format), ``"dense"`` otherwise.
    shape
        ``(n_cells, n_input_genes)`` of the input.
    dtype
        The input value type (boolean, integer or float).
    columns
        int64, the input column of each exported gene, in store order
        (``gene_identifiers``' selection and order; every column by default).
    handles
        Files opened to read the input, closed by :meth:`close`.
    """

    matrix: Any
    kind: Kind
    sparse: bool
    format: str
    shape: tuple[int, int]
    dtype: np.dtype
    columns: np.ndarray
    handles: tuple[Any, ...] = field(default=(), repr=False)

    @property
    def n_genes(self) -> int:
        """The number of exported genes (columns of the stored X)."""
        return int(self.columns.size)

    @property
    def every_column(self) -> bool:
        """Whether every input column is exported, in input order."""
        return self.columns.size == self.shape[1] and bool(
            np.array_equal(self.columns, np.arange(self.shape[1]))
        )

    def close(self) -> None:
        """Close the files opened to read the input (none for an object passed in)."""
        for handle in self.handles:
            handle.close()


@dataclass(frozen=True)
class _Described:
    matrix: Any
    kind: Kind
    sparse: bool
    format: str


def _is_backed_sparse(value: object) -> bool:
    return type(value).__module__.startswith("anndata") and getattr(value, "format", None) in (
        "csr",
        "csc",
    )


def _module(value: object) -> str:
    return type(value).__module__.split(".")[0]


def _described(value: Any) -> _Described:
    """What kind of matrix ``value`` is, converting only what is already in memory."""
    if sparse.issparse(value):
        return _Described(value, "scipy", True, value.format)
    if _is_backed_sparse(value):
        return _Described(value, "backed-sparse", True, value.format)
    module = _module(value)
    if module == "h5py":
        return _Described(value, "hdf5", False, "dense")
    if module == "zarr":
        return _Described(value, "zarr", False, "dense")
    if module == "dask":
        meta = getattr(value, "_meta", None)
        if sparse.issparse(meta):
            return _Described(value, "dask", True, meta.format)
        return _Described(value, "dask", False, "dense")
    if isinstance(value, np.ndarray):
        return _Described(value, "numpy", False, "dense")
    # A list, a data frame, np.matrix: already in memory, taken as numpy takes them.
    return _Described(np.asarray(value), "numpy", False, "dense")


def describe_expression(value: object, n_cells: int) -> _Described:
    """Check X's metadata (module docstring) and say what it is.

    Raises
    ------
    TypeError
        The values are not real numbers.
    ValueError
        No matrix, not 2-D, or not one row per cell.
    """
    label = "gene_expression"
    if value is None:
        raise ValueError(f"{label} has no values.")
    refuse_unreadable(value, label)
    described = _described(value)
    require_real_dtype(described.matrix.dtype, label)
    shape = tuple(int(extent) for extent in described.matrix.shape)
    if len(shape) != 2:
        raise ValueError(f"{label} must be a 2-D cells x genes matrix, and its shape is {shape}.")
    if shape[0] != n_cells:
        raise ValueError(
            f"{label} has {shape[0]:,} rows, and the embeddings have {n_cells:,} cells: X is "
            "cells x genes (transpose a genes x cells matrix first)."
        )
    return described


def expression_source(
    described: _Described, columns: np.ndarray, handles: tuple[Any, ...] = ()
) -> ExpressionSource:
    """The :class:`ExpressionSource` of a checked matrix and the exported columns."""
    matrix = described.matrix
    return ExpressionSource(
        matrix=matrix,
        kind=described.kind,
        sparse=described.sparse,
        format=described.format,
        shape=(int(matrix.shape[0]), int(matrix.shape[1])),
        dtype=np.dtype(matrix.dtype),
        columns=np.asarray(columns, dtype=np.int64),
        handles=handles,
    )
