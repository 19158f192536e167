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


class _BlockColumns:
    """One block of the matrix, gene-major: rows of the exported genes over the block's cells.

    A sparse block is transposed once; encoding then touches only its stored values and
    fills the rest with the code of zero.
    """

    def __init__(self, block: object, columns: np.ndarray) -> None:
        self.n_cells = block.shape[0]
        every_column = len(columns) == block.shape[1] and bool(
            (columns == np.arange(len(columns))).all()
        )
        if sp.issparse(block):
            matrix = sp.csr_matrix(block)
            self.sparse = (matrix if every_column else matrix[:, columns]).T.tocsr()
            self.sparse.sum_duplicates()
            self.dense = None
        else:
            self.sparse = None
            self.dense = np.asarray(block) if every_column else np.asarray(block)[:, columns]

    def encode(self, first: int, stop: int, job: GeneJob) -> np.ndarray:
        """Encoded rows ``first:stop`` as float32 (Inf as NaN) or quantization codes."""
        genes = np.arange(first, stop)
        if self.dense is not None:
            values = np.ascontiguousarray(self.dense[:, first:stop].T, dtype=np.float32)
            if job.bits is None:
                values[np.isinf(values)] = np.nan
                return values
            return quantize_rows(values, job.lo[genes, None], job.hi[genes, None], job.bits)
        begin, end = self.sparse.indptr[first], self.sparse.indptr[stop]
        data = self.sparse.data[begin:end]
        cells = self.sparse.indices[begin:end]
        rows = np.repeat(np.arange(stop - first), np.diff(self.sparse.indptr[first : stop + 1]))
        if job.bits is None:
            out = np.zeros((stop - first, self.n_cells), dtype=np.float32)
            values = data.astype(np.float32)
            values[np.isinf(values)] = np.nan
        else:
            lo, hi = job.lo[genes], job.hi[genes]
            zero_codes = quantize_rows(np.zeros(len(genes)), lo, hi, job.bits)
            out = np.repeat(zero_codes[:, None], self.n_cells, axis=1)
            values = quantize_rows(data, lo[rows], hi[rows], job.bits)
        out[rows, cells] = values
        return out


def write_block_pieces(block: object, block_index: int, job: GeneJob) -> np.ndarray:
    """Encode and compress every exported gene of one block into its spill file.

    Returns an (n_genes, 3) int64 array: offset, length and CRC-32 of each gene's piece.
    """
    columns = _BlockColumns(block, job.columns)
    n_rows = block.shape[0]
    group = max(1, GROUP_BYTES // max(1, n_rows * 4))
    index = np.zeros((len(job.columns), 3), dtype=np.int64)
    offset = 0
    with open(job.spill_path(block_index), "wb") as spill:
        for first in range(0, len(job.columns), group):
            stop = min(first + group, len(job.columns))
            encoded = columns.encode(first, stop, job)
            for row in range(stop - first):
                piece = compress_piece(memoryview(encoded[row]).cast("B"), job.compression)
                spill.write(piece.data)
                index[first + row] = (offset, len(piece.data), piece.crc32)
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


def gene_ranges(
    matrix: da.Array, columns: np.ndarray, piece_cells: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pass one for genes: min and max of the finite values and the count of NaN/Inf.

    A sparse column's implicit zeros count as values. Blocks follow the gene grid, so a
    task holds no more of the matrix than a gene-writing task does.
    """
    gridded = matrix.rechunk({0: piece_cells, 1: -1})
    tasks = [dask.delayed(_block_stats)(b, columns) for b in gridded.to_delayed().ravel()]
    stats = dask.compute(*tasks)
    lo = np.min([s[0] for s in stats], axis=0)
    hi = np.max([s[1] for s in stats], axis=0)
    bad = np.sum([s[2] for s in stats], axis=0)
    return lo, hi, bad


def _block_stats(block: object, columns: np.ndarray) -> tuple[np.ndarray, ...]:
    n_rows, n_genes = block.shape
    if sp.issparse(block):
        # gene-major copy: each gene's stored values are one contiguous run
        csc = sp.csc_matrix(block)
        csc.sum_duplicates()
        data = csc.data
        counts = np.diff(csc.indptr)
        bad = np.zeros(n_genes, dtype=np.int64)
        lo = np.full(n_genes, np.inf)
        hi = np.full(n_genes, -np.inf)
        stored = counts > 0
        if stored.any():
            # runs of stored genes are contiguous and non-empty, as reduceat needs
            starts = csc.indptr[:-1][stored]
            finite = np.isfinite(data)
            low_data = high_data = data
            if not finite.all():
                bad[stored] = np.add.reduceat((~finite).astype(np.int64), starts)
                low_data = np.where(finite, data, np.inf)
                high_data = np.where(finite, data, -np.inf)
            lo[stored] = np.minimum.reduceat(low_data, starts)
            hi[stored] = np.maximum.reduceat(high_data, starts)
        implicit_zero = counts < n_rows
        lo[implicit_zero] = np.minimum(lo[implicit_zero], 0.0)
        hi[implicit_zero] = np.maximum(hi[implicit_zero], 0.0)
        return lo[columns], hi[columns], bad[columns]
    dense = np.asarray(block)[:, columns].astype(np.float64)
    finite = np.isfinite(dense)
    lo = np.where(finite, dense, np.inf).min(axis=0, initial=np.inf)
    hi = np.where(finite, dense, -np.inf).max(axis=0, initial=-np.inf)
    return lo, hi, (~finite).sum(axis=0)
