"""``obsp['connectivities']``: the neighbour graph as a CSR float32 cells x cells matrix.

The weights are checked in float64, after repeated entries are summed: finite,
non-negative, a zero diagonal, exactly symmetric, and within the float32 range. A stored
zero is no edge and is dropped before the checks; the indices are sorted. (A weight so
small it becomes 0 in float32 stays stored, as 0.9.5 keeps it.)
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from cellucid.inputs.readable import refuse_closed_file

from .values import describe_unstorable, require_float32_range, require_real_dtype


def _as_csr(connectivities: object) -> sparse.csr_matrix:
    if sparse.issparse(connectivities):
        return sparse.csr_matrix(connectivities)
    array = np.asarray(connectivities)
    require_real_dtype(array.dtype, "connectivities")  # scipy's own refusal names no argument
    if array.ndim != 2:
        raise ValueError(
            f"connectivities must be a cells x cells matrix, and its shape is {array.shape}."
        )
    return sparse.csr_matrix(array)


def convert_connectivities(connectivities: object, n_cells: int) -> sparse.csr_matrix:
    """The graph as it is stored (module docstring).

    Parameters
    ----------
    connectivities
        A scipy sparse matrix or array, or anything ``numpy.asarray`` takes.
    n_cells
        The cell count (both sides).

    Raises
    ------
    TypeError
        The weights are not real numbers.
    ValueError
        Wrong shape, or a weight that breaks a rule of the module docstring.
    """
    refuse_closed_file(connectivities, "connectivities")
    graph = _as_csr(connectivities)
    require_real_dtype(graph.dtype, "connectivities")
    if graph.shape != (n_cells, n_cells):
        raise ValueError(
            f"connectivities must be {n_cells:,} x {n_cells:,} (a row and a column per cell), "
            f"and is {graph.shape[0]:,} x {graph.shape[1]:,}."
        )
    graph = graph.astype(np.float64)
    graph.sum_duplicates()
    if not np.isfinite(graph.data).all():
        raise ValueError(
            "connectivities must hold finite weights. "
            + describe_unstorable(graph.data, positions=False)
        )
    negative = int(np.count_nonzero(graph.data < 0))
    if negative:
        raise ValueError(f"connectivities must hold no negative weight, and holds {negative:,}.")
    graph.eliminate_zeros()
    loops = int(np.count_nonzero(graph.diagonal()))
    if loops:
        raise ValueError(
            f"connectivities must have a zero diagonal (no cell is its own neighbour), and "
            f"{loops:,} cells have a weight there."
        )
    if (graph != graph.T).nnz:
        raise ValueError(
            "connectivities must be exactly symmetric (the weight of i to j equal to that of "
            "j to i); symmetrise it first, for example (g + g.T) / 2."
        )
    require_float32_range(graph.data, "connectivities", positions=False)
    graph = graph.astype(np.float32)
    graph.sort_indices()
    return _given_if_same(connectivities, graph)


def _given_if_same(given: object, stored: sparse.csr_matrix) -> sparse.csr_matrix:
    """The caller's matrix when it already is the stored one, so no second copy is held.

    A graph is the largest per-cell element (tens of MB per 100,000 cells); an AnnData's
    float32 CSR graph usually needs no change at all.
    """
    if not (
        isinstance(given, sparse.csr_matrix)
        and given.dtype == np.float32
        and given.nnz == stored.nnz
        and given.has_sorted_indices
    ):
        return stored
    same = (
        np.array_equal(given.indptr, stored.indptr)
        and np.array_equal(given.indices, stored.indices)
        and np.array_equal(given.data, stored.data)
    )
    return given if same else stored
