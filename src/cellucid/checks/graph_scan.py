"""One pass over the connectivity matrix before anything is written: bad weights and size."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class GraphScan:
    """What the checks need to know of a graph."""

    #: the first (row, col, value) that is negative, NaN or infinite, in row order
    first_bad: tuple[int, int, float] | None
    #: stored non-zero entries off the diagonal (each edge is one or two of them)
    off_diagonal: int

    @property
    def min_edges(self) -> int:
        """A lower bound of the number of edges: every pair stored at most twice."""
        return -(-self.off_diagonal // 2)


def _scan_block(block: Any, row_start: int) -> tuple[tuple[int, int, float] | None, int]:
    coo = sp.coo_matrix(block) if sp.issparse(block) else sp.coo_matrix(np.asarray(block))
    rows = coo.row.astype(np.int64) + row_start
    off_diagonal = int(((rows != coo.col) & (coo.data != 0)).sum())
    bad = ~np.isfinite(coo.data) | (coo.data < 0)
    if not bad.any():
        return None, off_diagonal
    bad_rows, bad_cols = rows[bad], coo.col[bad]
    first = int(np.lexsort((bad_cols, bad_rows))[0])
    return (int(bad_rows[first]), int(bad_cols[first]), float(coo.data[bad][first])), off_diagonal


def scan_graph(matrix: da.Array) -> GraphScan:
    """Scan every block of rows of an n × n graph once."""
    starts = np.concatenate([[0], np.cumsum(matrix.chunks[0])[:-1]])
    blocks = matrix.rechunk({1: -1}).to_delayed().ravel()
    found = dask.compute(
        *[dask.delayed(_scan_block)(b, int(s)) for b, s in zip(blocks, starts, strict=True)]
    )
    first_bad = next((bad for bad, _ in found if bad is not None), None)
    return GraphScan(first_bad, sum(count for _, count in found))
