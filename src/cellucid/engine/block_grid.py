"""The fixed block grid of the expression matrix, and pass one over it.

The grid (cells per block, and slabs of genes for dense input) depends on the data only,
never on the input's chunking, the scheduler or the output, so every output built on it
gets the same bytes. Pass one reads the grid's blocks once for each gene's finite range,
its NaN/Inf count and, when asked, each block's checksum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np
import scipy.sparse as sp

from cellucid.engine.block_crc import block_crc
from cellucid.engine.csr_extrema import csr_column_extrema
from cellucid.engine.runner import run_tasks
from cellucid.inputs.arrays import as_cell_chunked, is_sparse_array

# Bytes of decoded matrix values one block task may hold, counted at 12 bytes per stored
# value (values, indices and, before blocks were encoded straight from CSR rows, a
# transposed copy). Fixed, so the grid and the bytes of the files depend on the data only.
BLOCK_BYTES = 1 << 27
MIN_PIECE_CELLS = 1024
MAX_PIECE_CELLS = 65536
# Dense columns encoded at once inside a block task.
GROUP_BYTES = 1 << 25
SAMPLE_ROWS = 4096


def choose_piece_cells(matrix: da.Array) -> int:
    """Cells per block, from the number of non-zero values in a fixed sample of rows.

    Counting values (not stored entries) gives the same grid for dense and sparse
    storage of the same data.
    """
    n_cells, n_genes = matrix.shape
    sample = matrix[: min(n_cells, SAMPLE_ROWS)].compute()
    nonzero = sample.count_nonzero() if sp.issparse(sample) else np.count_nonzero(sample)
    rows = max(1, sample.shape[0])
    bytes_per_row = max(1.0, nonzero / rows) * 12
    cells = BLOCK_BYTES / bytes_per_row
    power = 1 << max(0, int(np.floor(np.log2(max(cells, 1)))))
    return int(min(MAX_PIECE_CELLS, max(MIN_PIECE_CELLS, power)))


def slab_genes_for(piece_cells: int, n_genes: int, dense: bool) -> int:
    """Exported genes per slab: all for sparse input, about GROUP_BYTES of float32 for dense."""
    if not dense:
        return max(1, n_genes)
    return max(1, min(n_genes, GROUP_BYTES // (piece_cells * 4)))


def grid_matrix(matrix: da.Array, source: object) -> tuple[da.Array, int]:
    """The matrix read on the gene grid, and the grid's cells per block.

    The grid depends on the data only (a sample of rows), so the bytes do not depend on
    chunk_size. Inputs that are not dask arrays are read straight on the grid (dense ones
    also in slabs of genes): rechunking would read each input chunk whole.
    """
    piece_cells = choose_piece_cells(matrix)
    if not isinstance(source, da.Array):
        slab = slab_genes_for(piece_cells, matrix.shape[1], dense=not is_sparse_array(matrix))
        matrix = as_cell_chunked(source, piece_cells, slab)
    return matrix, piece_cells


def pass_one_blocks(matrix: da.Array, columns: np.ndarray, piece_cells: int) -> da.Array:
    """The blocks pass one reads: the gene grid's rows, and for dense input slabs of genes.

    A task then holds no more of the matrix than a gene-writing task does. The export
    record's checksums of the matrix are taken on these same blocks.
    """
    if is_sparse_array(matrix):
        return matrix.rechunk({0: piece_cells, 1: -1})
    slab = slab_genes_for(piece_cells, len(columns), dense=True)
    return select_columns(matrix, columns).rechunk({0: piece_cells, 1: slab})


@dataclass(frozen=True)
class GeneRanges:
    """What pass one found: per exported gene, and per block it read."""

    lo: np.ndarray  # smallest finite value (implicit zeros count)
    hi: np.ndarray  # largest finite value
    bad: np.ndarray  # count of NaN/Inf
    crcs: list[list[int]] | None  # block_crc of each (row, slab) block, when asked


def gene_ranges(
    blocks: da.Array,
    columns: np.ndarray,
    *,
    checksums: bool = False,
    scheduler: str | None = None,
    progress: bool = False,
) -> GeneRanges:
    """Pass one for genes over :func:`pass_one_blocks`: each gene's range, and checksums.

    ``columns`` are the exported genes' matrix columns (a dense ``blocks`` holds only
    those already). With ``checksums`` each block's :func:`block_crc` is taken too, so
    the export record gets the matrix's checksums without reading it once more.
    """
    dense = not is_sparse_array(blocks)
    delayed = blocks.to_delayed()
    stats = run_tasks(
        [
            dask.delayed(_block_stats)(
                delayed[k, j], np.arange(blocks.chunks[1][j]) if dense else columns, checksums
            )
            for k in range(delayed.shape[0])
            for j in range(delayed.shape[1])
        ],
        desc="genes: pass one (ranges)",
        progress=progress,
        unit=" blocks",
        scheduler=scheduler,
    )
    width = delayed.shape[1]
    rows = [stats[k * width : (k + 1) * width] for k in range(delayed.shape[0])]
    joined = [[np.concatenate([part[i] for part in row]) for row in rows] for i in range(3)]
    return GeneRanges(
        np.min(joined[0], axis=0),
        np.max(joined[1], axis=0),
        np.sum(joined[2], axis=0),
        [[part[3] for part in row] for row in rows] if checksums else None,
    )


def select_columns(matrix: da.Array, columns: np.ndarray) -> da.Array:
    every = len(columns) == matrix.shape[1] and bool((columns == np.arange(len(columns))).all())
    return matrix if every else matrix[:, columns]


def _block_stats(block: object, columns: np.ndarray, checksum: bool) -> tuple[Any, ...]:
    crc = block_crc(block) if checksum else None
    return (*_block_extrema(block, columns), crc)


def _block_extrema(block: object, columns: np.ndarray) -> tuple[np.ndarray, ...]:
    if sp.issparse(block):
        lo, hi, bad = csr_column_extrema(block)
        return lo[columns], hi[columns], bad[columns]
    dense = np.asarray(block)[:, columns].astype(np.float64)
    finite = np.isfinite(dense)
    lo = np.where(finite, dense, np.inf).min(axis=0, initial=np.inf)
    hi = np.where(finite, dense, -np.inf).max(axis=0, initial=-np.inf)
    return lo, hi, (~finite).sum(axis=0)
