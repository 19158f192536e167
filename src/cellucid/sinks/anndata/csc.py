"""A sparse expression matrix streamed into the store's gene-major (CSC) chunks.

The store holds X as CSC: ``X/data`` and ``X/indices`` cut into chunks of
:data:`CHUNK_ELEMENTS` values, gene after gene, cells ascending within a gene. The input is
read by blocks of cells (rows), so the matrix is turned gene-major in two passes whose
memory does not grow with the atlas:

1. **Scan** (:func:`scan_sparse`, one task per block of rows, :func:`scan_block`): each block
   is read once, made canonical (duplicates summed in the order they are stored, stored
   zeros dropped -- what ``scipy.sparse.csc_matrix`` of the whole input then
   ``sum_duplicates()`` and ``eliminate_zeros()`` give), its values checked, its exported
   genes selected in store order, and its entries written gene-major to a spill file
   (:mod:`cellucid.sinks.anndata.spill`). A block that is already canonical CSR (the
   common case: sorted, unique columns) is sorted by a compiled counting sort
   (:mod:`cellucid.sinks.anndata.csc_kernels`); any other goes through scipy. Each task
   returns its per-gene counts and small check records; together they give ``indptr`` and
   the stored value type (:class:`ScanResult`), or refuse the matrix
   (:class:`ExpressionValuesError`) before anything is written.
2. **Assembly** (:func:`plan_assembly`, then one task per :class:`Group`): the CSC
   positions are split into groups of whole chunks. A group reads from each block's spill
   only the entries that land in it, places them (gene ``g``'s entries of block ``b`` follow
   those of the blocks before ``b``) and yields its chunks (:func:`assemble_group`).

The grid of blocks depends on the data only (:func:`sample_block_rows`), never on the
scheduler, so every run writes the same bytes. Tasks are module-level functions bound with
:func:`functools.partial` over frozen dataclasses: they pickle, and may run on a
``dask.distributed`` cluster whose workers share the spill folder.

In one process (the lead's writer takes the chunks)::

    scan = scan_sparse(n_cells, n_input_genes, columns, read_block, spill_dir, run_tasks)
    try:
        for path, index, values in iter_chunks(plan_assembly(scan)):
            write_chunk(path, index, values)  # "X/data" or "X/indices", (k,), 1-D array
    finally:
        remove_spill(spill_dir)

or, on workers, ``run_tasks(assembly_tasks(plan, emit=picklable_chunk_writer))``.

Memory of one task, flat in the atlas size: a scan task holds its block as read (about
:data:`BLOCK_BYTES` of values and column indices) and its gene-major copy (values and
two-byte rows); an assembly task holds its group's values and indices (about
:data:`GROUP_BYTES`) plus one block's share of them at a time. The caller holds per-gene
vectors and a (blocks x genes) int32 table of counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial, reduce
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from cellucid.sinks.anndata.content import SparseX
from cellucid.sinks.anndata.csc_kernels import gene_major, place_runs
from cellucid.sinks.anndata.spill import read_spill, write_spill
from cellucid.sinks.anndata.x_values import (
    DtypeTraits,
    ExpressionValuesError,
    ValueFaults,
    count_faults,
    dtype_traits,
    float32_underflow,
    refused_mask,
    require_real,
    within_float32,
)

#: An executor: runs every task (a picklable callable without arguments), results in order.
RunTasks = Callable[[list[Callable[[], Any]]], list[Any]]
#: Rows ``[start, stop)`` of the input with all its columns: a CSR matrix (any scipy sparse
#: format is accepted) or a dense array. Must be picklable for a cluster.
ReadBlock = Callable[[int, int], Any]
#: One chunk of the store: array path, chunk grid index, values (edge chunk shorter).
Chunk = tuple[str, tuple[int, ...], np.ndarray]

#: Values per chunk of ``X/data`` and ``X/indices`` (the viewer reads them by slices).
CHUNK_ELEMENTS = 2**16
#: Stored values and their indices one scan task reads at a time (the block of rows).
BLOCK_BYTES = 2**25
#: Values and indices one assembly task places (then yields as chunks).
GROUP_BYTES = 2**25
#: Rows read to measure how many values a row stores, which sets the grid of blocks.
SAMPLE_ROWS = 4096
MIN_BLOCK_ROWS = 2**8
MAX_BLOCK_ROWS = 2**20
_INDEX_BYTES = 4


def index_dtype(n_cells: int) -> np.dtype:
    """Type of ``X/indices`` (cell positions): int32 unless there are 2^31 cells or more."""
    return np.dtype(np.int64 if n_cells > np.iinfo(np.int32).max else np.int32)


def spill_row_dtype(block_rows: int) -> np.dtype:
    """Type of the rows in the spill: rows within the block, uint16 when they fit.

    The spill is written and read once each and its bytes cost more than the arithmetic
    (the loops are memory-bound): two bytes a row instead of four is a quarter less.
    """
    return np.dtype(np.uint16 if block_rows <= 2**16 else np.int32)


# =============================================================================
# The grid of blocks of rows
# =============================================================================


@dataclass(frozen=True)
class BlockGrid:
    """Blocks of ``block_rows`` consecutive cells; the last one may be shorter."""

    n_cells: int
    block_rows: int

    def __post_init__(self) -> None:
        if not 0 < self.block_rows < 2**31:
            raise ValueError(f"block_rows must be in 1..2^31-1, got {self.block_rows}.")

    @property
    def n_blocks(self) -> int:
        """Number of blocks (0 for no cells)."""
        return -(-self.n_cells // self.block_rows)

    def bounds(self, block: int) -> tuple[int, int]:
        """Rows ``[start, stop)`` of ``block``."""
        start = block * self.block_rows
        return start, min(self.n_cells, start + self.block_rows)


def choose_block_rows(entries_per_row: float, value_itemsize: int) -> int:
    """Rows per block so that a block stores about :data:`BLOCK_BYTES` of values and indices.

    A power of two between :data:`MIN_BLOCK_ROWS` and :data:`MAX_BLOCK_ROWS`.
    """
    per_row = max(float(entries_per_row), 1e-9) * (value_itemsize + _INDEX_BYTES)
    rows = 1 << max(0, int(math.floor(math.log2(max(BLOCK_BYTES / per_row, 1.0)))))
    return int(min(MAX_BLOCK_ROWS, max(MIN_BLOCK_ROWS, rows)))


def sample_block_rows(read_block: ReadBlock, n_cells: int) -> int:
    """Rows per block from the stored values of the first :data:`SAMPLE_ROWS` rows.

    Depends on the data alone (never on chunking or workers), so the grid -- and every
    byte written -- is the same on every run.
    """
    rows = min(n_cells, SAMPLE_ROWS)
    if rows == 0:
        return MAX_BLOCK_ROWS
    sample = read_block(0, rows)
    if sparse.issparse(sample):
        stored = int(sample.nnz)
        itemsize = sample.dtype.itemsize
    else:
        array = np.asarray(sample)
        stored, itemsize = int(np.count_nonzero(array)), array.dtype.itemsize
    return choose_block_rows(stored / rows, itemsize)


def matrix_rows(matrix: Any, start: int, stop: int) -> Any:
    """Rows ``[start, stop)`` of an in-memory matrix: a :data:`ReadBlock` via ``partial``."""
    return matrix[start:stop]


# =============================================================================
# Pass A: the scan, one task per block
# =============================================================================


@dataclass(frozen=True, eq=False)
class ScanJob:
    """Everything a scan task needs: picklable, no array of the size of X.

    Attributes
    ----------
    n_cells, n_input_genes
        Shape of the input matrix.
    columns
        Input column of each exported gene, in store order (int64, unique).
    read_block
        Reader of rows with all input columns (:data:`ReadBlock`).
    block_rows
        Rows per block (:func:`sample_block_rows`).
    spill_dir
        Folder of the spill files (shared by the workers of a cluster).
    label
        The input's name in messages.
    """

    n_cells: int
    n_input_genes: int
    columns: np.ndarray
    read_block: ReadBlock
    block_rows: int
    spill_dir: str
    label: str = "gene_expression"

    @property
    def grid(self) -> BlockGrid:
        """The blocks of rows."""
        return BlockGrid(self.n_cells, self.block_rows)

    @property
    def position(self) -> np.ndarray:
        """Store position of each input column, -1 when it is not exported (int32)."""
        position = np.full(self.n_input_genes, -1, dtype=np.int32)
        position[self.columns] = np.arange(len(self.columns), dtype=np.int32)
        return position

    @property
    def every_column(self) -> bool:
        """Whether every input column is exported, in input order (no selection needed)."""
        n = self.n_input_genes
        return len(self.columns) == n and bool(np.array_equal(self.columns, np.arange(n)))


@dataclass(frozen=True, eq=False)
class BlockScan:
    """What one scan task returns: small, per block.

    Attributes
    ----------
    block
        Index of the block in the grid.
    counts
        Stored values of each exported gene in this block (int32, store order).
    value_dtype
        Type of the values in the block's spill file (the input's type, ``dtype.str``).
    faults
        Refused values among all input genes of the block.
    traits
        What the stored type depends on, over the block's exported values.
    """

    block: int
    counts: np.ndarray
    value_dtype: str
    faults: ValueFaults
    traits: DtypeTraits


def _as_sparse(block: Any, shape: tuple[int, int], label: str) -> Any:
    """A block as read, checked: real values of the expected shape, sparse (a dense block
    becomes CSR, which drops its zeros)."""
    if not sparse.issparse(block):
        array = np.asarray(block)
        require_real(array.dtype, label)
        if array.ndim != 2:
            raise ValueError(f"{label} must be 2-D (cells x genes), got shape {array.shape}.")
        block = sparse.csr_matrix(array)
    require_real(block.dtype, label)
    if block.shape != shape:
        raise ValueError(f"A block of {label} has shape {block.shape}, expected {shape}.")
    return block


def canonical_block(block: Any) -> sparse.csc_matrix:
    """One block as CSC over all input columns: duplicates summed, stored zeros dropped.

    Duplicates are summed in the order the input stores them (row order, then the order
    within a row), as scipy sums them when the whole input is converted to CSC (upstream
    0.9.5's ``canonical_csc``); the sum is taken in the input's value type, then entries
    equal to zero are dropped. The reader's arrays are never changed.
    """
    # csc_matrix() of a CSC input shares its arrays, which the steps below change
    matrix = sparse.csc_matrix(block, copy=block.format == "csc")
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    return matrix


def _first_fault(
    data: np.ndarray, rows: np.ndarray, genes: np.ndarray, first_row: int, total: int
) -> ValueFaults:
    # rows and genes of the refused values; the example is the lowest cell, then gene
    first = np.lexsort((genes, rows))[0]
    return count_faults(data, total, first_row + int(rows[first]), int(genes[first]))


def block_faults(matrix: Any, first_row: int) -> ValueFaults:
    """Refused values of one canonical block (CSR or CSC), with the first (cell, column)."""
    data = matrix.data
    # a canonical CSC block holds no zero; a CSR block may: a stored zero is no value
    total = int(np.count_nonzero(data)) if matrix.format == "csr" else int(data.size)
    if within_float32(data):
        return ValueFaults(total=total)
    bad = np.flatnonzero(refused_mask(data))
    major = np.searchsorted(matrix.indptr, bad, side="right") - 1
    minor = matrix.indices[bad]
    if matrix.format == "csr":
        return _first_fault(data[bad], major, minor, first_row, total)
    return _first_fault(data[bad], minor, major, first_row, total)


@dataclass(frozen=True, eq=False)
class _Piece:
    """One block's exported entries gene-major, with its checks, before it is spilled."""

    faults: ValueFaults
    traits: DtypeTraits
    counts: np.ndarray
    values: np.ndarray
    rows: np.ndarray


def _compiled_piece(matrix: sparse.csr_matrix, job: ScanJob, start: int) -> _Piece:
    # a canonical CSR block: checked as it is, then sorted gene-major by the kernel
    counts, values, rows = gene_major(
        matrix.indptr,
        matrix.indices,
        matrix.data,
        job.position,
        len(job.columns),
        spill_row_dtype(job.block_rows),
    )
    return _Piece(block_faults(matrix, start), dtype_traits(values), counts, values, rows)


def _scipy_piece(block: Any, job: ScanJob, start: int) -> _Piece:
    # any other block: made canonical CSC by scipy (the order duplicates are summed in)
    matrix = canonical_block(block)
    faults = block_faults(matrix, start)
    exported = matrix if job.every_column else matrix[:, job.columns]
    del matrix
    traits = dtype_traits(exported.data)
    underflow = float32_underflow(exported.data)
    if underflow is not None:
        # not whole numbers, so X is float32, where they are zero: no stored value
        exported.data[underflow] = 0
        exported.eliminate_zeros()
    rows = exported.indices.astype(spill_row_dtype(job.block_rows))
    return _Piece(faults, traits, np.diff(exported.indptr), exported.data, rows)


def _is_canonical_csr(block: Any) -> bool:
    # sorted, unique columns in every row and no value that float32 turns into zero: then
    # the compiled path (value types numba handles) gives what scipy's canonical CSC gives
    return (
        block.format == "csr"
        and block.dtype.kind in "biuf"
        and block.dtype.itemsize <= 8
        and block.dtype != np.float16
        and bool(block.has_canonical_format)
        and float32_underflow(block.data) is None
    )


def scan_block(job: ScanJob, block: int) -> BlockScan:
    """Scan one block of rows: read, canonicalise, check, select, spill gene-major.

    Nothing is spilled when the block holds refused values (the matrix will be refused).

    Parameters
    ----------
    job
        The scan's settings.
    block
        Index of the block in ``job.grid``.

    Returns
    -------
    BlockScan
        Per-gene counts, the spill's value type and the value checks.
    """
    start, stop = job.grid.bounds(block)
    read = _as_sparse(job.read_block(start, stop), (stop - start, job.n_input_genes), job.label)
    if _is_canonical_csr(read):
        piece = _compiled_piece(sparse.csr_matrix(read), job, start)
    else:
        piece = _scipy_piece(read, job, start)
    del read
    if not piece.faults.count:
        write_spill(job.spill_dir, block, piece.values, piece.rows)
    counts = piece.counts.astype(np.int32)
    return BlockScan(block, counts, piece.values.dtype.str, piece.faults, piece.traits)


@dataclass(frozen=True, eq=False)
class ScanResult:
    """The scan of X: its shape, ``indptr``, stored type and where its spill is.

    Attributes
    ----------
    n_cells, n_genes
        Shape of the stored matrix (exported genes only).
    indptr
        ``n_genes + 1`` int64 offsets of each gene's values.
    dtype
        Stored value type: float32, or float64 for whole-number counts above 2^24.
    block_rows
        Rows per block of the spill.
    counts
        (n_blocks, n_genes) int32: stored values of each block and gene.
    value_dtypes
        Type of the values in each block's spill file.
    spill_dir
        Folder of the spill files.
    """

    n_cells: int
    n_genes: int
    indptr: np.ndarray
    dtype: np.dtype
    block_rows: int
    counts: np.ndarray
    value_dtypes: tuple[str, ...]
    spill_dir: str

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_cells, n_genes)``."""
        return (self.n_cells, self.n_genes)

    @property
    def nnz(self) -> int:
        """Stored values of X."""
        return int(self.indptr[-1])

    @property
    def index_dtype(self) -> np.dtype:
        """Type of ``X/indices``."""
        return index_dtype(self.n_cells)

    def sparse_x(self) -> SparseX:
        """X's description for :class:`~cellucid.sinks.anndata.content.StoreContent`."""
        return SparseX(shape=self.shape, indptr=self.indptr, dtype=self.dtype)


def combine_scans(job: ScanJob, scans: list[BlockScan]) -> ScanResult:
    """The :class:`ScanResult` of every block's scan (in any order).

    Raises
    ------
    ExpressionValuesError
        When any block holds a refused value (counts and the first cell and gene).
    """
    scans = sorted(scans, key=lambda scan: scan.block)
    if [scan.block for scan in scans] != list(range(job.grid.n_blocks)):
        raise ValueError("The scan results do not cover every block exactly once.")
    faults = reduce(ValueFaults.merge, (scan.faults for scan in scans), ValueFaults(0))
    if faults.count:
        raise ExpressionValuesError(faults, job.label)
    traits = reduce(DtypeTraits.merge, (scan.traits for scan in scans), DtypeTraits(0, True, 0.0))
    n_genes = len(job.columns)
    counts = (
        np.stack([scan.counts for scan in scans])
        if scans
        else np.zeros((0, n_genes), dtype=np.int32)
    )
    indptr = np.zeros(n_genes + 1, dtype=np.int64)
    np.cumsum(counts.sum(axis=0, dtype=np.int64), out=indptr[1:])
    return ScanResult(
        n_cells=job.n_cells,
        n_genes=n_genes,
        indptr=indptr,
        dtype=traits.stored_dtype,
        block_rows=job.block_rows,
        counts=counts,
        value_dtypes=tuple(scan.value_dtype for scan in scans),
        spill_dir=job.spill_dir,
    )


def _checked_columns(columns: Any, n_input_genes: int) -> np.ndarray:
    columns = np.asarray(columns)
    if columns.ndim != 1 or (columns.size and columns.dtype.kind not in "iu"):
        raise ValueError("columns must be a 1-D array of input column indices.")
    columns = columns.astype(np.int64)
    if columns.size and (columns.min() < 0 or columns.max() >= n_input_genes):
        raise ValueError(f"columns must lie in 0..{n_input_genes - 1}.")
    if np.unique(columns).size != columns.size:
        raise ValueError("columns must not repeat an input column.")
    return columns


def scan_tasks(job: ScanJob) -> list[Callable[[], BlockScan]]:
    """One picklable task per block of ``job.grid`` (:func:`scan_block`)."""
    return [partial(scan_block, job, block) for block in range(job.grid.n_blocks)]


def scan_sparse(
    n_cells: int,
    n_input_genes: int,
    columns: Any,
    read_block: ReadBlock,
    spill_dir: Any,
    run_tasks: RunTasks,
    *,
    block_rows: int | None = None,
    label: str = "gene_expression",
) -> ScanResult:
    """Pass A over a sparse X: one read of the input, spilled gene-major by blocks.

    Parameters
    ----------
    n_cells, n_input_genes
        Shape of the input (cells x all input genes).
    columns
        Input column of each exported gene, in store order (any subset, any order).
    read_block
        ``read_block(start, stop)``: rows ``[start, stop)`` with all input columns, as a
        scipy sparse matrix (CSR preferred) or a dense array. Picklable for a cluster.
    spill_dir
        Folder for the spill files, created here (with its parents) when missing; the
        caller removes it (:func:`cellucid.sinks.anndata.spill.remove_spill`) after
        assembly or refusal.
    run_tasks
        Executor: runs a list of picklable callables, returns their results in order.
    block_rows
        Rows per block; by default measured on the first rows (:func:`sample_block_rows`).
    label
        The input's name in messages.

    Returns
    -------
    ScanResult
        ``indptr``, stored type and the spill's layout, for :func:`plan_assembly`.

    Raises
    ------
    ExpressionValuesError
        When the input (any of its genes) holds NaN, infinities, or finite values beyond
        the float32 range. Raised before anything of the store is written.
    TypeError
        When the values are not real numbers.
    """
    columns = _checked_columns(columns, n_input_genes)
    if block_rows is None:
        block_rows = sample_block_rows(read_block, n_cells)
    job = ScanJob(
        n_cells, n_input_genes, columns, read_block, int(block_rows), str(spill_dir), label
    )
    # here, not in the tasks: a task still running after its run was stopped and the folder
    # removed (a cluster worker cannot be interrupted) must not create it again
    Path(spill_dir).mkdir(parents=True, exist_ok=True)
    return combine_scans(job, run_tasks(scan_tasks(job)))


# =============================================================================
# The plan of the assembly (pure)
# =============================================================================


@dataclass(frozen=True)
class SpillLayout:
    """What an assembly task needs to know of the spill and of the store's arrays.

    Attributes
    ----------
    spill_dir
        Folder of the spill files.
    value_dtypes, entries
        Each block's spilled value type and entry count.
    block_rows
        Rows per block (block ``b``'s spilled rows count from ``b * block_rows``).
    row_dtype
        Type of the spilled rows (:func:`spill_row_dtype`).
    index_dtype, stored_dtype
        Types of ``X/indices`` and ``X/data``.
    chunk_elements
        Values per chunk.
    """

    spill_dir: str
    value_dtypes: tuple[str, ...]
    entries: tuple[int, ...]
    block_rows: int
    row_dtype: str
    index_dtype: str
    stored_dtype: str
    chunk_elements: int

    @property
    def n_blocks(self) -> int:
        """Blocks of the spill."""
        return len(self.entries)


@dataclass(frozen=True, eq=False)
class Group:
    """CSC positions ``[start, stop)``: whole chunks (the last may end at ``nnz``).

    Attributes
    ----------
    index
        Position of the group in the plan.
    first_chunk
        Chunk index of position ``start``.
    start, stop
        The group's CSC positions.
    first_gene
        The gene holding position ``start``; the group spans genes
        ``first_gene .. first_gene + len(gene_starts) - 1``.
    gene_starts
        ``indptr`` of each of those genes (int64).
    counts
        (n_blocks, n_group_genes) int32: each block's stored values of those genes.
    spill_starts
        Each block's spill position of its first entry of ``first_gene`` (int64).
    """

    index: int
    first_chunk: int
    start: int
    stop: int
    first_gene: int
    gene_starts: np.ndarray
    counts: np.ndarray
    spill_starts: np.ndarray

    def chunk_bounds(self, chunk_elements: int) -> list[tuple[int, int, int]]:
        """``(chunk index, start, stop)`` of each chunk, positions relative to the group."""
        return [
            (self.first_chunk + k, at, min(at + chunk_elements, self.stop - self.start))
            for k, at in enumerate(range(0, self.stop - self.start, chunk_elements))
        ]


@dataclass(frozen=True, eq=False)
class AssemblyPlan:
    """The groups of whole chunks X is assembled in, and the spill they read."""

    layout: SpillLayout
    nnz: int
    groups: tuple[Group, ...]

    @property
    def n_chunks(self) -> int:
        """Chunks of ``X/data`` (and of ``X/indices``)."""
        return -(-self.nnz // self.layout.chunk_elements)


def plan_assembly(
    scan: ScanResult,
    *,
    chunk_elements: int = CHUNK_ELEMENTS,
    group_bytes: int = GROUP_BYTES,
) -> AssemblyPlan:
    """Split X's CSC positions into groups of whole chunks (pure: no I/O).

    Parameters
    ----------
    scan
        The scan of X.
    chunk_elements
        Values per chunk.
    group_bytes
        Bytes of stored values and indices one group holds, at most (at least one chunk).

    Returns
    -------
    AssemblyPlan
        The groups, in position order, each knowing its genes and blocks' spill ranges.
    """
    dtype, index = np.dtype(scan.dtype), scan.index_dtype
    per_group = max(1, group_bytes // (chunk_elements * (dtype.itemsize + index.itemsize)))
    layout = SpillLayout(
        spill_dir=scan.spill_dir,
        value_dtypes=scan.value_dtypes,
        entries=tuple(int(n) for n in scan.counts.sum(axis=1, dtype=np.int64)),
        block_rows=scan.block_rows,
        row_dtype=spill_row_dtype(scan.block_rows).str,
        index_dtype=index.str,
        stored_dtype=dtype.str,
        chunk_elements=chunk_elements,
    )
    n_chunks = -(-scan.nnz // chunk_elements)
    groups = []
    spill_starts = np.zeros(scan.counts.shape[0], dtype=np.int64)
    passed = 0  # genes whose entries spill_starts already skips
    for number, first_chunk in enumerate(range(0, n_chunks, per_group)):
        start = first_chunk * chunk_elements
        stop = min(scan.nnz, (first_chunk + per_group) * chunk_elements)
        first = int(np.searchsorted(scan.indptr, start, side="right")) - 1
        last = int(np.searchsorted(scan.indptr, stop, side="left")) - 1
        spill_starts = spill_starts + scan.counts[:, passed:first].sum(axis=1, dtype=np.int64)
        passed = first
        groups.append(
            Group(
                index=number,
                first_chunk=first_chunk,
                start=start,
                stop=stop,
                first_gene=first,
                gene_starts=scan.indptr[first : last + 1].copy(),
                counts=scan.counts[:, first : last + 1].copy(),
                spill_starts=spill_starts,
            )
        )
    return AssemblyPlan(layout=layout, nnz=scan.nnz, groups=tuple(groups))


# =============================================================================
# Pass B: the assembly, one task per group
# =============================================================================


def block_runs(group: Group, block: int, before: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """Where one block's entries of a group come from and go (pure).

    Parameters
    ----------
    group
        The group.
    block
        The block.
    before
        Stored values of each of the group's genes in the blocks before ``block`` (int64).

    Returns
    -------
    spill_start, starts, lengths
        The block's spill entries from ``spill_start`` on, ``lengths.sum()`` of them, are
        runs of ``lengths[j]`` entries (one per gene of the group, in gene order) that go
        to the group's positions ``starts[j]:starts[j] + lengths[j]`` (relative to
        ``group.start``). Only the first and last gene can be cut by the group's bounds,
        so the entries are one contiguous range of the spill.
    """
    counts = group.counts[block].astype(np.int64)
    at = group.gene_starts + before  # where this block's entries of each gene begin
    low = np.clip(group.start - at, 0, counts)
    lengths = np.clip(group.stop - at, 0, counts) - low
    return int(group.spill_starts[block] + low[0]), at + low - group.start, lengths


def assemble_group(layout: SpillLayout, group: Group) -> Iterator[Chunk]:
    """Build one group's chunks from the spill: ``("X/data", (k,), values)`` then
    ``("X/indices", (k,), cells)`` for each chunk ``k`` of the group.

    Values are in the stored type, cell indices in the index type; the last chunk of X is
    shorter. The arrays are views of the group's buffers: copy them to keep them.
    """
    n = group.stop - group.start
    values = np.empty(n, dtype=np.dtype(layout.stored_dtype))
    rows = np.empty(n, dtype=np.dtype(layout.index_dtype))
    before = np.zeros(len(group.gene_starts), dtype=np.int64)
    for block in range(layout.n_blocks):
        spill_start, starts, lengths = block_runs(group, block, before)
        before += group.counts[block]
        taken = int(lengths.sum())
        if taken:
            block_values, block_rows = read_spill(
                layout.spill_dir,
                block,
                layout.value_dtypes[block],
                layout.row_dtype,
                layout.entries[block],
                spill_start,
                spill_start + taken,
            )
            # numpy converts (as upstream's astype does); the kernel only moves values
            block_values = block_values.astype(values.dtype, copy=False)
            first_row = rows.dtype.type(block * layout.block_rows)
            place_runs(values, rows, block_values, block_rows, starts, lengths, first_row)
    for chunk, start, stop in group.chunk_bounds(layout.chunk_elements):
        yield ("X/data", (chunk,), values[start:stop])
        yield ("X/indices", (chunk,), rows[start:stop])


def group_task(
    layout: SpillLayout,
    group: Group,
    emit: Callable[[str, tuple[int, ...], np.ndarray], Any] | None = None,
) -> list[Chunk] | int:
    """The task form of :func:`assemble_group`.

    Returns the group's chunks as a list when ``emit`` is None; otherwise calls
    ``emit(path, chunk_index, values)`` for each (e.g. a picklable chunk writer on the
    worker) and returns how many chunks it emitted.
    """
    if emit is None:
        return list(assemble_group(layout, group))
    emitted = 0
    for path, chunk, array in assemble_group(layout, group):
        emit(path, chunk, array)
        emitted += 1
    return emitted


def assembly_tasks(
    plan: AssemblyPlan,
    emit: Callable[[str, tuple[int, ...], np.ndarray], Any] | None = None,
) -> list[Callable[[], list[Chunk] | int]]:
    """One picklable task per group (:func:`group_task`); each carries only its group."""
    return [partial(group_task, plan.layout, group, emit) for group in plan.groups]


def iter_chunks(plan: AssemblyPlan) -> Iterator[Chunk]:
    """Every chunk of ``X/data`` and ``X/indices``, group after group, in this process."""
    for group in plan.groups:
        yield from assemble_group(plan.layout, group)
