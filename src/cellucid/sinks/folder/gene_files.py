"""Gene files from a cell-major matrix: one gzip piece per (cell block, gene).

The matrix is read in blocks of ``piece_cells`` rows on a fixed grid. A block task turns
its rows into gene-major columns one small group of genes at a time, encodes them,
compresses each column as an independent deflate piece and appends the pieces to one
spill file per block. Assembly tasks then build each gene's file from its pieces in
cell order (see :mod:`cellucid.sinks.folder.format.gzip_pieces`). No task ever holds more than one
block of the matrix, and the bytes depend on the grid only, never on the scheduler.
"""

from __future__ import annotations

import mmap
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

import dask
import dask.array as da
import numpy as np
import scipy.sparse as sp
from zlib_ng import zlib_ng

from cellucid.engine import block_grid
from cellucid.engine.block_grid import select_columns
from cellucid.engine.files import write_parts
from cellucid.sinks.folder.csr_columns import CsrGeneGroups
from cellucid.sinks.folder.format.codecs import value_codec
from cellucid.sinks.folder.format.gzip_pieces import MemberAssembler
from cellucid.sinks.folder.format.quantize import quantize_rows
from cellucid.sinks.folder.format.sparse_deflate import compress_column_piece, deflate_byte_rows


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




class _BlockColumns:
    """One block of the matrix, gene-major: rows of the exported genes over the block's cells.

    A sparse block whose exported columns ascend is encoded group by group straight from
    its rows (:class:`~cellucid.sinks.folder.csr_columns.CsrGeneGroups`); any other sparse block
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
    group = max(1, block_grid.GROUP_BYTES // max(1, n_rows * 4))
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
    itemsize = value_codec(job.bits).dtype.itemsize
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
        selected = select_columns(matrix, job.columns)
        gridded = selected.rechunk({0: job.piece_cells, 1: job.slab_genes})
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














