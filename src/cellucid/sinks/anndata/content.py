"""What one Cellucid-ready AnnData store holds, converted and checked, before it is written.

The conversions (upstream 0.9.5's argument handling) produce a :class:`StoreContent`; the
writers lay it out in a container. Everything here is per-cell or per-gene and held in
memory; the expression matrix is described (:class:`SparseX`, :class:`DenseX`), never held:
its chunks are streamed by the X assembly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

#: One stored obs or var column: a categorical, an object array of strings, a numeric or
#: boolean array, or a pandas nullable integer or boolean array.
Column = pd.Categorical | np.ndarray | pd.arrays.IntegerArray | pd.arrays.BooleanArray


@dataclass(frozen=True)
class SparseX:
    """A gene-major (CSC) expression matrix, known from the scan of the input.

    Attributes
    ----------
    shape
        ``(n_cells, n_genes)`` of the stored matrix.
    indptr
        ``n_genes + 1`` offsets of each gene's stored values (int64 in memory; stored as
        ``indptr_dtype``).
    dtype
        Stored value type: float32, or float64 when integer counts above 2^24 are present.
    """

    shape: tuple[int, int]
    indptr: np.ndarray
    dtype: np.dtype

    @property
    def nnz(self) -> int:
        """Number of stored values."""
        return int(self.indptr[-1])

    @property
    def indptr_dtype(self) -> np.dtype:
        """int32 unless the matrix holds 2^31 stored values or more."""
        return np.dtype(np.int64 if self.nnz >= 2**31 else np.int32)

    @property
    def indices_dtype(self) -> np.dtype:
        """int32 unless the indexed axis (cells) has more than 2^31 - 1 entries."""
        return np.dtype(np.int64 if self.shape[0] > np.iinfo(np.int32).max else np.int32)


@dataclass(frozen=True)
class DenseX:
    """A dense cells x genes expression matrix, written as tall strips of few genes."""

    shape: tuple[int, int]
    dtype: np.dtype


@dataclass(frozen=True)
class StoreContent:
    """Every element of one store except the values of X.

    Attributes
    ----------
    obs_index, var_index
        Cell and gene names (object arrays of ``str``), already unique.
    obs, var
        Column name -> stored column (:data:`Column`), in column order.
    obsm
        Embeddings and vector fields, float32 2-D arrays of ``n_cells`` rows.
    obsp
        ``connectivities`` (CSR float32, sorted indices), when given.
    uns
        ``title`` and ``cellucid`` (the record: nested dicts, str, numbers, numpy arrays).
    x
        The expression matrix's description, or ``None`` when no X is written.
    """

    obs_index: np.ndarray
    obs: dict[str, Any]
    var_index: np.ndarray
    var: dict[str, Any]
    obsm: dict[str, np.ndarray] = field(default_factory=dict)
    obsp: dict[str, sparse.csr_matrix] = field(default_factory=dict)
    uns: dict[str, Any] = field(default_factory=dict)
    x: SparseX | DenseX | None = None
