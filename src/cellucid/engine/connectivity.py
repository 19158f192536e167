"""Edge pairs of the symmetrised KNN graph, extracted block by block.

Each block of rows contributes its off-diagonal entries as unordered pairs
``(min(i, j), max(i, j))`` with their weights; pairs are merged, weights summed (so
``C[i, j] + C[j, i]`` decides), and zero sums dropped. Everything is vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Edges:
    """Sorted, unique edge pairs with ``src < dst``."""

    src: np.ndarray
    dst: np.ndarray
    max_neighbors: int


def _block_pairs(block: object, row_start: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Unordered-pair keys of a block's off-diagonal non-zero entries.

    Weights are returned only when some are negative: with none, a pair's summed weight
    is non-zero exactly when the pair occurs, and the keys alone decide.
    """
    coo = sp.coo_matrix(block) if sp.issparse(block) else sp.coo_matrix(np.asarray(block))
    rows = coo.row.astype(np.int64) + row_start
    cols = coo.col.astype(np.int64)
    keep = (rows != cols) & (coo.data != 0)
    rows, cols, weights = rows[keep], cols[keep], coo.data[keep]
    keys = np.minimum(rows, cols) * np.int64(2**32) + np.maximum(rows, cols)
    return keys, (weights.astype(np.float64) if (weights < 0).any() else None)


def extract_edges(matrix: da.Array) -> Edges:
    """The edge pairs of ``matrix`` (n × n), symmetrised, weights dropped."""
    n = matrix.shape[0]
    starts = np.concatenate([[0], np.cumsum(matrix.chunks[0])[:-1]])
    blocks = matrix.rechunk({1: -1}).to_delayed().ravel()
    parts = dask.compute(
        *[dask.delayed(_block_pairs)(b, int(s)) for b, s in zip(blocks, starts, strict=True)]
    )
    keys = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    if any(p[1] is not None for p in parts):
        weights = np.concatenate(
            [p[1] if p[1] is not None else np.ones(len(p[0])) for p in parts]
        )
        order = np.argsort(keys, kind="stable")
        keys, weights = keys[order], weights[order]
        unique_keys, first = np.unique(keys, return_index=True)
        sums = np.add.reduceat(weights, first) if len(first) else np.zeros(0)
        unique_keys = unique_keys[sums != 0]
    else:
        unique_keys = np.unique(keys)
    del keys
    src = unique_keys // np.int64(2**32)
    dst = unique_keys % np.int64(2**32)
    degree = np.bincount(src, minlength=n) + np.bincount(dst, minlength=n)
    max_neighbors = int(degree.max()) if len(degree) else 0
    return Edges(src, dst, max_neighbors)
