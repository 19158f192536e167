"""Compiled loops of the sparse X stream: a block's entries gene-major, and runs placed.

:func:`gene_major` turns one canonical CSR block into its exported genes' entries sorted by
gene then cell: one counting pass, then one scatter pass (a counting sort, as scipy's
``tocsc`` does, fused with the column selection and the dropping of stored zeros, so the
block is walked twice and copied once). :func:`place_runs` copies a block's runs of
entries to their places in an assembly group, its rows made global on the way.

Kernels release the GIL (``nogil``), so a thread pool runs them side by side, and are cached
on disk next to this file when it is writable (compiled once per machine and value type).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba
import numpy as np


def _compiled(function: Callable[..., Any]) -> Any:
    # cache=True fails at decoration when no cache folder is writable: compile in memory then
    try:
        return numba.njit(cache=True, nogil=True)(function)
    except RuntimeError:
        return numba.njit(nogil=True)(function)


@_compiled
def _count_genes(indices, data, position, counts):
    for k in range(indices.size):
        gene = position[indices[k]]
        if gene >= 0 and data[k] != 0:
            counts[gene] += 1


@_compiled
def _scatter(indptr, indices, data, position, offsets, values, rows):
    following = offsets[:-1].copy()
    for row in range(indptr.size - 1):
        for k in range(indptr[row], indptr[row + 1]):
            gene = position[indices[k]]
            if gene < 0 or data[k] == 0:
                continue
            at = following[gene]
            following[gene] = at + 1
            rows[at] = row
            values[at] = data[k]


def gene_major(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    position: np.ndarray,
    n_genes: int,
    row_dtype: np.dtype,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One canonical CSR block's exported, non-zero entries, sorted by gene then cell.

    Parameters
    ----------
    indptr, indices, data
        The block (sorted, unique column indices in every row).
    position
        Store position of each input column, -1 for a column not exported (int32).
    n_genes
        Exported genes.
    row_dtype
        Type of the returned rows (within the block).

    Returns
    -------
    counts, values, rows
        Entries per exported gene (int64), and the values (the input's type) and rows
        (within the block) of the entries, gene-major.
    """
    counts = np.zeros(n_genes, dtype=np.int64)
    if n_genes == 0:
        return counts, np.empty(0, dtype=data.dtype), np.empty(0, dtype=row_dtype)
    _count_genes(indices, data, position, counts)
    offsets = np.zeros(n_genes + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    total = int(offsets[-1])
    values = np.empty(total, dtype=data.dtype)
    rows = np.empty(total, dtype=row_dtype)
    _scatter(indptr, indices, data, position, offsets, values, rows)
    return counts, values, rows


@_compiled
def place_runs(values, rows, source_values, source_rows, starts, lengths, first_row):
    """Copy consecutive runs of the sources (``lengths[j]`` entries each) to ``starts[j]``;
    rows become global (``first_row +``)."""
    k = 0
    for run in range(starts.size):
        at = starts[run]
        for i in range(lengths[run]):
            values[at + i] = source_values[k + i]
            rows[at + i] = first_row + source_rows[k + i]
        k += lengths[run]
