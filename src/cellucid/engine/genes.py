"""Gene files from a cell-major matrix: one gzip piece per (cell block, gene).

The matrix is read in blocks of ``piece_cells`` rows on a fixed grid. A block task turns
its rows into gene-major columns one small group of genes at a time, encodes them,
compresses each column as an independent deflate piece and appends the pieces to one
spill file per block. Assembly tasks then build each gene's file from its pieces in
cell order (see :mod:`cellucid.format.gzip_pieces`). No task ever holds more than one
block of the matrix, and the bytes depend on the grid only, never on the scheduler.
"""

from __future__ import annotations

import mmap
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

import dask
import dask.array as da
import numpy as np
import scipy.sparse as sp
from zlib_ng import zlib_ng

from cellucid.engine.block_crc import block_crc
from cellucid.engine.csr_columns import CsrGeneGroups
from cellucid.engine.csr_extrema import csr_column_extrema
from cellucid.engine.files import write_parts
from cellucid.engine.inputs import as_cell_chunked, is_sparse_array
from cellucid.engine.runner import run_tasks
from cellucid.format.gzip_pieces import MemberAssembler
from cellucid.format.quantize import quantize_rows
from cellucid.format.sparse_deflate import compress_column_piece, deflate_byte_rows

# Bytes of decoded matrix values one block task may hold, counted at 12 bytes per stored
# value (values, indices and, before blocks were encoded straight from CSR rows, a
# transposed copy). Fixed, so the grid and the bytes of the files depend on the data only.
BLOCK_BYTES = 1 << 27
MIN_PIECE_CELLS = 1024
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
    # Dense matrices are read in slabs of this many exported genes (sparse ones, whose
    # rows cannot be cut by column cheaply, in one slab of all genes).
    slab_genes: int
    dense: bool

    @property
    def n_blocks(self) -> int:
        return max(1, -(-self.n_cells // self.piece_cells))

    @property
    def n_slabs(self) -> int:
        return max(1, -(-len(self.columns) // self.slab_genes))

    def spill_path(self, block: int, slab: int) -> str:
        return os.path.join(self.spill_dir, f"genes-{block:06d}-{slab:05d}.bin")


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

    A sparse block whose exported columns ascend is encoded group by group straight from
    its rows (:class:`~cellucid.engine.csr_columns.CsrGeneGroups`); any other sparse block
    is transposed once. Either way encoding touches only stored values and fills the rest
    with the code of zero.
    """

    def __init__(self, block: object, columns: np.ndarray) -> None:
        self.n_cells = block.shape[0]
        self.groups = self.sparse = self.dense = None
        every_column = len(columns) == block.shape[1] and bool(
            (columns == np.arange(len(columns))).all()
        )
        if sp.issparse(block) and CsrGeneGroups.supports(columns):
            self.groups = CsrGeneGroups(block, columns)
        elif sp.issparse(block):
            matrix = sp.csr_matrix(block)
            self.sparse = (matrix if every_column else matrix[:, columns]).T.tocsr()
            self.sparse.sum_duplicates()
        else:
            self.dense = np.asarray(block) if every_column else np.asarray(block)[:, columns]

    def encode(self, first: int, stop: int, job: GeneJob, gene_offset: int = 0) -> np.ndarray:
        """Encoded rows ``first:stop`` as float32 (Inf as NaN) or quantization codes.

        ``gene_offset`` is the export index of this block's first gene (for the ranges).
        Rows are asked for in order, each group once.
        """
        genes = np.arange(first, stop) + gene_offset
        if self.groups is not None:
            lo = None if job.bits is None else job.lo[genes]
            hi = None if job.bits is None else job.hi[genes]
            return self.groups.encode(first, stop, lo, hi, job.bits)
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


def write_block_pieces(block: object, block_index: int, slab: int, job: GeneJob) -> np.ndarray:
    """Encode and compress the genes of one slab of one block into its spill file.

    Returns an (n_slab_genes, 3) int64 array: offset, length and CRC-32 of each piece.
    """
    first_gene = slab * job.slab_genes
    n_genes = min(job.slab_genes, len(job.columns) - first_gene)
    # a dense slab holds exactly its genes; a sparse block holds every matrix column
    local = np.arange(n_genes) if job.dense else job.columns
    columns = _BlockColumns(block, local)
    n_rows = block.shape[0]
    group = max(1, GROUP_BYTES // max(1, n_rows * 4))
    index = np.zeros((n_genes, 3), dtype=np.int64)
    offset = 0
    with open(job.spill_path(block_index, slab), "wb") as spill:
        for first in range(0, n_genes, group):
            stop = min(first + group, n_genes)
            encoded = columns.encode(first, stop, job, first_gene)
            backgrounds = _backgrounds(np.arange(first, stop) + first_gene, job)
            offset = _spill_group(spill, encoded, backgrounds, job, index[first:stop], offset)
    return index


def _spill_group(
    spill: BinaryIO,
    encoded: np.ndarray,
    backgrounds: np.ndarray,
    job: GeneJob,
    index: np.ndarray,
    offset: int,
) -> int:
    """Compress each row of ``encoded`` as one piece, append it to ``spill``, fill ``index``.

    8-bit codes (the common case) go through one compiled call for the whole group; the
    bytes are the same as piece by piece. Returns the spill file's new end.
    """
    if job.bits == 8 and job.compression and encoded.shape[1] and sys.byteorder == "little":
        pieces, ends = deflate_byte_rows(encoded, backgrounds)
        starts = np.concatenate([[0], ends[:-1]])
        for row in range(encoded.shape[0]):
            index[row] = (
                offset + starts[row],
                ends[row] - starts[row],
                zlib_ng.crc32(encoded[row]),
            )
        spill.write(memoryview(pieces))
        return offset + len(pieces)
    for row in range(encoded.shape[0]):
        piece = compress_column_piece(encoded[row], backgrounds[row], job.compression)
        spill.write(piece.data)
        index[row] = (offset, len(piece.data), piece.crc32)
        offset += len(piece.data)
    return offset


def _backgrounds(genes: np.ndarray, job: GeneJob) -> np.ndarray:
    """The encoding of 0 for each of ``genes``: the item most cells of a sparse gene hold."""
    if job.bits is None:
        return np.zeros(len(genes), dtype=np.float32)
    return quantize_rows(np.zeros(len(genes)), job.lo[genes], job.hi[genes], job.bits)


def piece_table(indexes: list[list[np.ndarray]]) -> np.ndarray:
    """Every piece's (offset, length, CRC-32) as one (genes, blocks, 3) int64 array.

    ``indexes[block][slab]`` is what the block tasks returned; slabs hold consecutive
    genes, so joining them gives the job's genes in order.
    """
    return np.stack([np.concatenate(block) for block in indexes], axis=1)


def assemble_genes(genes: Sequence[int], table: np.ndarray, job: GeneJob) -> int:
    """Write the final files of ``genes`` (indices into the job) from the spill files.

    ``table`` is the :func:`piece_table` of the block tasks. Returns how many files were
    written. Spill files are mapped, not read: each file is its pieces' slices of the maps,
    framed as one gzip member and written with one ``writev``.
    """
    itemsize = np.dtype({None: "float32", 8: "uint8", 16: "uint16"}[job.bits]).itemsize
    raw_lengths = [
        min(job.piece_cells, job.n_cells - block * job.piece_cells) * itemsize
        for block in range(job.n_blocks)
    ]
    genes = np.asarray(genes, dtype=np.int64)
    slabs = (genes // job.slab_genes).tolist()
    # The task's pieces as one flat list of plain ints (gene, block, offset/length/crc):
    # converting whole block indexes to nested lists cost ~10 ms each in garbage
    # collection, 8 s of a 300k x 10k export.
    pieces = table[genes].reshape(-1).tolist()
    spills = _SpillMaps(job)
    try:
        for position, gene in enumerate(genes.tolist()):
            assembler = MemberAssembler(compressed=bool(job.compression))
            parts: list[bytes | memoryview] = [assembler.start()]
            at = position * job.n_blocks * 3
            for block, raw_length in enumerate(raw_lengths):
                offset, length, crc = pieces[at : at + 3]
                at += 3
                spill = spills.view(block, slabs[position])
                parts.append(assembler.add(spill[offset : offset + length], crc, raw_length))
            parts.append(assembler.finish())
            write_parts(job.paths[gene], parts)
    finally:
        spills.close()
    return len(genes)


class _SpillMaps:
    """The spill files of one assembly task, mapped read-only when first needed."""

    def __init__(self, job: GeneJob) -> None:
        self.job = job
        self.maps: dict[tuple[int, int], memoryview] = {}

    def view(self, block: int, slab: int) -> memoryview:
        """The map of the spill file of (``block``, ``slab``)."""
        view = self.maps.get((block, slab))
        if view is None:
            with open(self.job.spill_path(block, slab), "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if size else None
            view = memoryview(mapped) if mapped is not None else memoryview(b"")
            self.maps[(block, slab)] = view
        return view

    def close(self) -> None:
        # dropped, not closed: slices of the last file's parts may still be alive (an
        # error mid-file); each map is unmapped when its last slice goes
        self.maps.clear()


def slab_genes_for(piece_cells: int, n_genes: int, dense: bool) -> int:
    """Exported genes per slab: all for sparse input, about GROUP_BYTES of float32 for dense."""
    if not dense:
        return max(1, n_genes)
    return max(1, min(n_genes, GROUP_BYTES // (piece_cells * 4)))


def block_tasks(
    matrix: da.Array,
    job: GeneJob,
    write: Callable[..., np.ndarray] = write_block_pieces,
    extra: tuple[object, ...] = (),
) -> list[list]:
    """One delayed task per (block of the fixed grid, slab of genes).

    Each calls ``write(block, block_index, slab, job, *extra)``, by default
    :func:`write_block_pieces`. Tasks left out of a computation read nothing.
    """
    if job.dense:
        gridded = _select(matrix, job.columns).rechunk({0: job.piece_cells, 1: job.slab_genes})
    else:
        gridded = matrix.rechunk({0: job.piece_cells, 1: -1})
    blocks = gridded.to_delayed()
    task = dask.delayed(write, pure=False)
    # one graph node for the plan: dask would otherwise walk its thousands of paths per task
    plan = dask.delayed(job, traverse=False)
    return [
        [task(blocks[k, s], k, s, plan, *extra) for s in range(blocks.shape[1])]
        for k in range(blocks.shape[0])
    ]


def assembly_tasks(
    indexes: list[list[np.ndarray]],
    job: GeneJob,
    genes_per_task: int = 256,
    genes: Sequence[int] | None = None,
) -> list:
    """Delayed assembly tasks over consecutive runs of ``genes`` (default all of the job)."""
    assemble = dask.delayed(assemble_genes, pure=False)
    shared = dask.delayed(piece_table(indexes), traverse=False)
    plan = dask.delayed(job, traverse=False)
    return [assemble(run, shared, plan) for run in assembly_ranges(job, genes_per_task, genes)]


def assembly_ranges(
    job: GeneJob, genes_per_task: int = 256, genes: Sequence[int] | None = None
) -> list[Sequence[int]]:
    """The genes of each assembly task: consecutive runs of ``genes_per_task``.

    ``genes`` are indices into the job (default all); a resumed run writes only some.
    """
    genes = range(len(job.columns)) if genes is None else genes
    return [genes[start : start + genes_per_task] for start in range(0, len(genes), genes_per_task)]


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
    return _select(matrix, columns).rechunk({0: piece_cells, 1: slab})


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


def _select(matrix: da.Array, columns: np.ndarray) -> da.Array:
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
