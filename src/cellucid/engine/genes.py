"""Gene files from a cell-major matrix: one gzip piece per (cell block, gene).

The matrix is read in blocks of ``piece_cells`` rows on a fixed grid. A block task turns
its rows into gene-major columns one small group of genes at a time, encodes them,
compresses each column as an independent deflate piece and appends the pieces to one
spill file per block. Assembly tasks then build each gene's file from its pieces in
cell order (see :mod:`cellucid.format.gzip_pieces`). No task ever holds more than one
block of the matrix, and the bytes depend on the grid only, never on the scheduler.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import scipy.sparse as sp

from cellucid.engine.files import atomic_file
from cellucid.format.gzip_pieces import MemberAssembler, compress_piece
from cellucid.format.quantize import quantize_rows

# Bytes of decoded matrix values one block task may hold (sparse: values, indices and a
# transposed copy, 12 bytes per stored value). Fixed, so the grid and the bytes of the
# files depend on the data only.
BLOCK_BYTES = 1 << 27
MIN_PIECE_CELLS = 8192
MAX_PIECE_CELLS = 65536
# Dense columns encoded at once inside a block task.
GROUP_BYTES = 1 << 25
SAMPLE_ROWS = 4096


@dataclass(frozen=True)
class GeneJob:
    """What the gene writers need to know, with no array data: a plain, picklable plan."""

    n_cells: int
    piece_cells: int
    columns: np.ndarray  # matrix column of each exported gene, in export order
    paths: tuple[str, ...]  # final file of each exported gene
    lo: np.ndarray | None  # quantization range per exported gene
    hi: np.ndarray | None
    bits: int | None
    compression: int | None
    spill_dir: str

    @property
    def n_blocks(self) -> int:
        return max(1, -(-self.n_cells // self.piece_cells))

    def spill_path(self, block: int) -> str:
        return os.path.join(self.spill_dir, f"genes-{block:06d}.bin")


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


def _gene_major(block: object, columns: np.ndarray) -> np.ndarray:
    """The block's values for ``columns``, one row per gene, as float32."""
    if sp.issparse(block):
        transposed = sp.csr_matrix(block).T.tocsr()
        return transposed[columns].toarray().astype(np.float32, copy=False)
    dense = np.asarray(block)
    return np.ascontiguousarray(dense[:, columns].T, dtype=np.float32)


def _encode(values: np.ndarray, job: GeneJob, genes: np.ndarray) -> np.ndarray:
    if job.bits is None:
        values = values.copy()
        values[np.isinf(values)] = np.nan
        return values
    return quantize_rows(values, job.lo[genes, None], job.hi[genes, None], job.bits)


def write_block_pieces(block: object, block_index: int, job: GeneJob) -> np.ndarray:
    """Encode and compress every exported gene of one block into its spill file.

    Returns an (n_genes, 3) int64 array: offset, length and CRC-32 of each gene's piece.
    """
    n_rows = block.shape[0]
    group = max(1, GROUP_BYTES // max(1, n_rows * 8))
    index = np.zeros((len(job.columns), 3), dtype=np.int64)
    offset = 0
    with open(job.spill_path(block_index), "wb") as spill:
        for first in range(0, len(job.columns), group):
            genes = np.arange(first, min(first + group, len(job.columns)))
            encoded = _encode(_gene_major(block, job.columns[genes]), job, genes)
            for row, gene in enumerate(genes):
                piece = compress_piece(memoryview(encoded[row]).cast("B"), job.compression)
                spill.write(piece.data)
                index[gene] = (offset, len(piece.data), piece.crc32)
                offset += len(piece.data)
    return index


def assemble_genes(genes: range, indexes: list[np.ndarray], job: GeneJob) -> int:
    """Write the final files of ``genes`` from the spill files; returns how many."""
    itemsize = np.dtype({None: "float32", 8: "uint8", 16: "uint16"}[job.bits]).itemsize
    fds = [os.open(job.spill_path(b), os.O_RDONLY) for b in range(job.n_blocks)]
    try:
        for gene in genes:
            assembler = MemberAssembler(compressed=bool(job.compression))
            with atomic_file(Path(job.paths[gene])) as handle:
                handle.write(assembler.start())
                for block, fd in enumerate(fds):
                    offset, length, crc = (int(v) for v in indexes[block][gene])
                    rows = min(job.piece_cells, job.n_cells - block * job.piece_cells)
                    data = os.pread(fd, length, offset)
                    handle.write(assembler.add(data, crc, rows * itemsize))
                handle.write(assembler.finish())
    finally:
        for fd in fds:
            os.close(fd)
    return len(genes)


def block_tasks(matrix: da.Array, job: GeneJob) -> list:
    """One delayed task per block of the fixed grid."""
    gridded = matrix.rechunk({0: job.piece_cells, 1: -1})
    blocks = gridded.to_delayed().ravel()
    write = dask.delayed(write_block_pieces, pure=False)
    return [write(block, index, job) for index, block in enumerate(blocks)]


def assembly_tasks(indexes: list[np.ndarray], job: GeneJob, genes_per_task: int = 256) -> list:
    """Delayed assembly tasks over consecutive runs of genes."""
    assemble = dask.delayed(assemble_genes, pure=False)
    shared = dask.delayed(indexes, traverse=False)
    return [
        assemble(range(start, min(start + genes_per_task, len(job.columns))), shared, job)
        for start in range(0, len(job.columns), genes_per_task)
    ]


def gene_ranges(matrix: da.Array, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pass one for genes: min and max of the finite values and the count of NaN/Inf.

    A sparse column's implicit zeros count as values.
    """
    tasks = [dask.delayed(_block_stats)(b, columns) for b in matrix.to_delayed().ravel()]
    stats = dask.compute(*tasks)
    lo = np.min([s[0] for s in stats], axis=0)
    hi = np.max([s[1] for s in stats], axis=0)
    bad = np.sum([s[2] for s in stats], axis=0)
    return lo, hi, bad


def _block_stats(block: object, columns: np.ndarray) -> tuple[np.ndarray, ...]:
    n_rows = block.shape[0]
    if sp.issparse(block):
        csc = sp.csc_matrix(block)[:, columns]
        csc.sum_duplicates()
        data = csc.data.astype(np.float64)
        finite = np.isfinite(data)
        col_of = np.repeat(np.arange(len(columns)), np.diff(csc.indptr))
        lo = np.full(len(columns), np.inf)
        hi = np.full(len(columns), -np.inf)
        np.minimum.at(lo, col_of[finite], data[finite])
        np.maximum.at(hi, col_of[finite], data[finite])
        has_implicit_zero = np.diff(csc.indptr) < n_rows
        lo[has_implicit_zero] = np.minimum(lo[has_implicit_zero], 0.0)
        hi[has_implicit_zero] = np.maximum(hi[has_implicit_zero], 0.0)
        bad = np.bincount(col_of[~finite], minlength=len(columns))
        return lo, hi, bad
    dense = np.asarray(block)[:, columns].astype(np.float64)
    finite = np.isfinite(dense)
    lo = np.where(finite, dense, np.inf).min(axis=0, initial=np.inf)
    hi = np.where(finite, dense, -np.inf).max(axis=0, initial=-np.inf)
    return lo, hi, (~finite).sum(axis=0)
