"""Pass one's per-gene extrema straight from a CSR block, in one compiled pass.

A gene's range over a block of cells needs only the block's stored values and their
columns; turning the block gene-major first (a CSC copy) cost more than the whole range
computation.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from cellucid.engine.jit import njit_cached


@njit_cached
def _column_extrema(data, indices, n_columns):  # noqa: ANN001, ANN202
    """Per column: min and max of the finite stored values, NaN/Inf count, stored count."""
    lo = np.full(n_columns, np.inf)
    hi = np.full(n_columns, -np.inf)
    bad = np.zeros(n_columns, dtype=np.int64)
    stored = np.zeros(n_columns, dtype=np.int64)
    for k in range(data.shape[0]):
        column = indices[k]
        value = np.float64(data[k])
        stored[column] += 1
        if not np.isfinite(value):
            bad[column] += 1
            continue
        if value < lo[column]:
            lo[column] = value
        if value > hi[column]:
            hi[column] = value
    return lo, hi, bad, stored


def canonical_csr(block: sp.spmatrix | sp.sparray) -> sp.csr_matrix:
    """``block`` as CSR with sorted, unique columns per row (duplicates summed).

    The caller's block is never sorted in place (other tasks may read it): a block that is
    not canonical already is copied first.
    """
    # the block itself when it is CSR: scipy remembers its canonical check on the object,
    # and pass one, the checksums and the encoder each ask
    csr = block if isinstance(block, sp.csr_matrix) else sp.csr_matrix(block)
    if not csr.has_canonical_format:
        csr = csr.copy()
        csr.sum_duplicates()
    return csr


def csr_column_extrema(block: sp.spmatrix | sp.sparray) -> tuple[np.ndarray, ...]:
    """Min and max of each column's finite values (implicit zeros count) and NaN/Inf counts.

    Parameters
    ----------
    block
        A sparse block of rows (any scipy sparse format; duplicates are summed first).

    Returns
    -------
    lo, hi : float64 arrays
        Per column; ``inf`` / ``-inf`` for a column with no finite value.
    bad : int64 array
        Per column, the number of NaN and infinite stored values.
    """
    csr = canonical_csr(block)
    n_rows, n_columns = csr.shape
    data = csr.data
    if data.dtype.kind not in "fiub":
        data = data.astype(np.float64)
    lo, hi, bad, stored = _column_extrema(data, csr.indices, n_columns)
    implicit_zero = stored < n_rows
    lo[implicit_zero] = np.minimum(lo[implicit_zero], 0.0)
    hi[implicit_zero] = np.maximum(hi[implicit_zero], 0.0)
    return lo, hi, bad
