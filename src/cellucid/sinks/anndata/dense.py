"""A dense expression matrix, written dense: tall strips of few genes.

A dense input stays a dense 2-D ``X`` whose chunks are strips of
``(min(n_cells, 2^18), min(n_genes, 2^18 // rows))`` values (:func:`strip_chunks`), so the
viewer reads one gene's column with few requests. The input is read in tiles of rows x
columns (:data:`TILE_BYTES` each), never whole:

1. **Check** (:func:`scan_dense`, one task per tile of *all* input columns,
   :func:`check_tile`): the values must be finite and within the float32 range -- every
   input gene, exported or not -- and the exported ones decide the stored type (float64
   for whole-number counts above 2^24). Reductions first (smallest and largest value);
   the refused values are counted only when those fail.
2. **Write** (:func:`dense_tasks` / :func:`iter_dense_chunks`, one task per row band and
   run of strips, :func:`tile_chunks`): the exported genes of a tile are read (input
   columns ascending), put in store order, converted to the stored type and yielded as
   ``("X", (i, j), strip)`` chunks; edge chunks are shorter.

Memory of one task: one tile of the input, and its converted copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial, reduce
from typing import Any

import numpy as np

from cellucid.sinks.anndata.content import DenseX
from cellucid.sinks.anndata.x_values import (
    DtypeTraits,
    ExpressionValuesError,
    ValueFaults,
    count_faults,
    dtype_traits,
    refused_mask,
    require_real,
    within_float32,
)

#: ``read_strip(start, stop, columns)``: rows ``[start, stop)`` of the input columns
#: ``columns`` (int64, ascending, unique) as a 2-D array of shape (stop - start, len(columns)).
#: Must be picklable for a cluster.
ReadStrip = Callable[[int, int, np.ndarray], Any]
#: An executor: runs every task (a picklable callable without arguments), results in order.
RunTasks = Callable[[list[Callable[[], Any]]], list[Any]]
#: One chunk of the store: array path, chunk grid index, values.
Chunk = tuple[str, tuple[int, ...], np.ndarray]

#: Values per chunk of an array read whole (rows x columns of a strip).
WHOLE_CHUNK_ELEMENTS = 2**18
#: Bytes of input one task reads, counted at 8 bytes a value whatever the input's type,
#: so the tiles depend on the shape alone.
TILE_BYTES = 2**26
_VALUE_BYTES = 8


def strip_chunks(n_cells: int, n_genes: int) -> tuple[int, int]:
    """Chunk shape of a dense X: all cells up to 2^18 rows, and as many genes as fit."""
    rows = max(1, min(n_cells, WHOLE_CHUNK_ELEMENTS))
    return rows, max(1, min(n_genes, WHOLE_CHUNK_ELEMENTS // rows))


def read_dense_rows(matrix: Any, start: int, stop: int, columns: np.ndarray) -> np.ndarray:
    """A :data:`ReadStrip` over an in-memory array (bind the array with ``partial``)."""
    return np.asarray(matrix[start:stop][:, columns])


# =============================================================================
# Pass 1: the checks, over every input gene
# =============================================================================


@dataclass(frozen=True, eq=False)
class DenseJob:
    """What a check task needs: the shapes, the exported columns and the reader."""

    n_cells: int
    n_input_genes: int
    columns: np.ndarray
    read_strip: ReadStrip
    label: str = "gene_expression"

    @property
    def band_rows(self) -> int:
        """Rows of a tile: the chunk rows."""
        return strip_chunks(self.n_cells, len(self.columns))[0]

    @property
    def tile_columns(self) -> int:
        """Input columns of a check tile."""
        return max(1, TILE_BYTES // (self.band_rows * _VALUE_BYTES))


@dataclass(frozen=True, eq=False)
class TileCheck:
    """What one check task returns: the refused values, the exported values' traits, and
    the :func:`column_sums` of the exported input columns ``exported`` in row band ``band``."""

    faults: ValueFaults
    traits: DtypeTraits
    band: int = 0
    exported: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    sums: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))


def column_sums(values: np.ndarray) -> np.ndarray:
    """Per column, the sum modulo 2^64 of the values' bit patterns.

    Integer addition is exact and in any order the same, so a column read in other tiles
    gives the same sum; a changed value changes it. Pass two compares these with pass
    one's, so an input whose values change between the two reads (a dask array of random
    numbers, a file rewritten meanwhile) is refused rather than written with values the
    checks never saw.
    """
    array = np.ascontiguousarray(values)
    bits = array.view(np.uint8 if array.dtype.kind == "b" else f"u{array.dtype.itemsize}")
    return bits.sum(axis=0, dtype=np.uint64)


def tile_faults(tile: np.ndarray, first_row: int, first_column: int) -> ValueFaults:
    """Refused values of one tile, with the first one's (cell, input column)."""
    if within_float32(tile):
        return ValueFaults(total=int(tile.size))
    mask = refused_mask(tile)
    row, column = np.unravel_index(int(np.flatnonzero(mask)[0]), tile.shape)
    return count_faults(
        tile[mask], int(tile.size), first_row + int(row), first_column + int(column)
    )


def check_tile(job: DenseJob, band: int, first_column: int, stop_column: int) -> TileCheck:
    """Check rows of ``band`` x input columns ``[first_column, stop_column)``.

    Every value is checked for finiteness and range; the exported columns among them give
    the :class:`~cellucid.sinks.anndata.x_values.DtypeTraits`.
    """
    start = band * job.band_rows
    stop = min(job.n_cells, start + job.band_rows)
    inputs = np.arange(first_column, stop_column, dtype=np.int64)
    tile = np.asarray(job.read_strip(start, stop, inputs))
    require_real(tile.dtype, job.label)
    if tile.shape != (stop - start, len(inputs)):
        raise ValueError(
            f"A tile of {job.label} has shape {tile.shape}, expected {(stop - start, len(inputs))}."
        )
    faults = tile_faults(tile, start, first_column)
    exported = np.isin(inputs, job.columns)
    values = tile if exported.all() else tile[:, exported]
    return TileCheck(faults, dtype_traits(values), band, inputs[exported], column_sums(values))


# =============================================================================
# The plan of the chunks (pure), and pass 2
# =============================================================================


@dataclass(frozen=True, eq=False)
class DensePlan:
    """The stored dense X and the write tasks' tiles.

    Attributes
    ----------
    n_cells
        Rows of X.
    columns
        Input column of each exported gene, in store order.
    dtype
        Stored type: float32, or float64 for whole-number counts above 2^24.
    chunks
        Chunk shape (:func:`strip_chunks`).
    tiles
        ``(row band, first strip, stop strip)`` of each write task.
    band_sums
        uint64 (row bands x genes in store order): pass one's :func:`column_sums`, which
        the write tasks compare with theirs; None: not compared.
    """

    n_cells: int
    columns: np.ndarray
    dtype: np.dtype
    chunks: tuple[int, int]
    tiles: tuple[tuple[int, int, int], ...]
    band_sums: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_cells, n_genes)`` of the stored X."""
        return (self.n_cells, len(self.columns))

    def dense_x(self) -> DenseX:
        """X's description for :class:`~cellucid.sinks.anndata.content.StoreContent`."""
        return DenseX(shape=self.shape, dtype=np.dtype(self.dtype))


def plan_dense(
    n_cells: int, columns: np.ndarray, dtype: np.dtype, band_sums: np.ndarray | None = None
) -> DensePlan:
    """The write tiles of a dense X (pure): row bands x runs of whole strips."""
    n_genes = len(columns)
    rows, cols = strip_chunks(n_cells, n_genes)
    n_bands, n_strips = -(-n_cells // rows), -(-n_genes // cols)
    per_task = max(1, TILE_BYTES // (rows * cols * _VALUE_BYTES))
    tiles = tuple(
        (band, first, min(first + per_task, n_strips))
        for band in range(n_bands)
        for first in range(0, n_strips, per_task)
    )
    return DensePlan(
        n_cells,
        np.asarray(columns, dtype=np.int64),
        np.dtype(dtype),
        (rows, cols),
        tiles,
        band_sums,
    )


def scan_dense(
    n_cells: int,
    n_input_genes: int,
    columns: Any,
    read_strip: ReadStrip,
    run_tasks: RunTasks,
    *,
    label: str = "gene_expression",
) -> DensePlan:
    """Pass 1 over a dense X: check every value, decide the stored type, plan the chunks.

    Parameters
    ----------
    n_cells, n_input_genes
        Shape of the input.
    columns
        Input column of each exported gene, in store order (any subset, any order).
    read_strip
        :data:`ReadStrip` over the input.
    run_tasks
        Executor: runs a list of picklable callables, returns their results in order.
    label
        The input's name in messages.

    Raises
    ------
    ExpressionValuesError
        When any input value is NaN, infinite, or finite beyond the float32 range.
    """
    columns = np.asarray(columns, dtype=np.int64).reshape(-1)
    if np.unique(columns).size != columns.size or (
        columns.size and (columns.min() < 0 or columns.max() >= n_input_genes)
    ):
        raise ValueError(f"columns must be distinct input columns in 0..{n_input_genes - 1}.")
    job = DenseJob(n_cells, n_input_genes, columns, read_strip, label)
    tasks = [
        partial(check_tile, job, band, first, min(first + job.tile_columns, n_input_genes))
        for band in range(-(-n_cells // job.band_rows))
        for first in range(0, n_input_genes, job.tile_columns)
    ]
    checks = run_tasks(tasks)
    faults = reduce(ValueFaults.merge, (check.faults for check in checks), ValueFaults(0))
    if faults.count:
        raise ExpressionValuesError(faults, label)
    traits = reduce(DtypeTraits.merge, (c.traits for c in checks), DtypeTraits(0, True, 0.0))
    return plan_dense(n_cells, columns, traits.stored_dtype, _band_sums(job, checks))


def _band_sums(job: DenseJob, checks: list[TileCheck]) -> np.ndarray:
    """Pass one's column sums, by row band and gene in store order."""
    place = np.full(job.n_input_genes, -1, dtype=np.int64)
    place[job.columns] = np.arange(len(job.columns))
    sums = np.zeros((-(-job.n_cells // job.band_rows), len(job.columns)), dtype=np.uint64)
    for check in checks:
        sums[check.band, place[check.exported]] = check.sums
    return sums


def _require_same_values(
    plan: DensePlan, band: int, first_gene: int, values: np.ndarray, rows: tuple[int, int]
) -> None:
    """Refuse a tile whose values differ from what pass one read and checked."""
    if plan.band_sums is None:
        return
    expected = plan.band_sums[band, first_gene : first_gene + values.shape[1]]
    if np.array_equal(column_sums(values), expected):
        return
    raise ValueError(
        f"gene_expression gave other values in rows {rows[0]:,}-{rows[1] - 1:,} when it was "
        "read again to write them: its values changed while the store was written (a dask "
        "array that computes different values each time, e.g. from random numbers, or a "
        "file being written meanwhile), so the store would hold values the checks never "
        "saw; nothing was written. Make the values fixed (x = x.persist(), or finish "
        "writing the file) and run again."
    )


def tile_chunks(
    plan: DensePlan, read_strip: ReadStrip, tile: tuple[int, int, int]
) -> Iterator[Chunk]:
    """The chunks ``("X", (band, strip), values)`` of one write tile, strip after strip.

    Each chunk is C-contiguous, in the stored type; edge chunks are shorter.
    """
    band, first, stop = tile
    rows, cols = plan.chunks
    start_row = band * rows
    stop_row = min(plan.n_cells, start_row + rows)
    genes = plan.columns[first * cols : min(len(plan.columns), stop * cols)]
    order = np.argsort(genes, kind="stable")
    values = np.asarray(read_strip(start_row, stop_row, genes[order]))
    if not np.array_equal(order, np.arange(len(order))):
        # back to store order: the gene read at position p is genes[order[p]]
        place = np.empty_like(order)
        place[order] = np.arange(len(order))
        values = np.take(values, place, axis=1)
    _require_same_values(plan, band, first * cols, values, (start_row, stop_row))
    for strip in range(first, stop):
        at = (strip - first) * cols
        chunk = values[:, at : at + cols].astype(plan.dtype, order="C")
        yield ("X", (band, strip), chunk)


def dense_task(
    plan: DensePlan,
    read_strip: ReadStrip,
    tile: tuple[int, int, int],
    emit: Callable[[str, tuple[int, ...], np.ndarray], Any] | None = None,
) -> list[Chunk] | int:
    """The task form of :func:`tile_chunks`: the chunks as a list, or the number of chunks
    handed to ``emit(path, chunk_index, values)``."""
    if emit is None:
        return list(tile_chunks(plan, read_strip, tile))
    emitted = 0
    for path, chunk, values in tile_chunks(plan, read_strip, tile):
        emit(path, chunk, values)
        emitted += 1
    return emitted


def dense_tasks(
    plan: DensePlan,
    read_strip: ReadStrip,
    emit: Callable[[str, tuple[int, ...], np.ndarray], Any] | None = None,
) -> list[Callable[[], list[Chunk] | int]]:
    """One picklable task per write tile (:func:`dense_task`)."""
    return [partial(dense_task, plan, read_strip, tile, emit) for tile in plan.tiles]


def iter_dense_chunks(plan: DensePlan, read_strip: ReadStrip) -> Iterator[Chunk]:
    """Every chunk of a dense X, tile after tile, in this process."""
    for tile in plan.tiles:
        yield from tile_chunks(plan, read_strip, tile)
