"""Gene-major encoded rows straight from a CSR block of cells, group by group.

A block task needs the block's genes as rows (one gene's cells contiguous) to compress
them. Transposing the whole block first (a CSC copy) doubled the memory a task holds
and cost more than the encoding. Here every cell keeps a cursor into its sorted stored
values; for each consecutive group of genes the cursors advance past the group's
columns and the group's codes are written straight into a dense (genes x cells) array.
Every stored value is read once per block, whatever the number of groups.

The codes are those of :func:`cellucid.sinks.folder.format.quantize.quantize_rows` (float64
arithmetic, round half to even), or float32 with infinities as NaN when unquantized.
"""

from __future__ import annotations

import numpy as np

from cellucid.engine.csr_extrema import canonical_csr
from cellucid.engine.jit import njit_cached
from cellucid.sinks.folder.format.codecs import value_codec
from cellucid.sinks.folder.format.quantize import quantize_rows


@njit_cached(inline="always")
def _code(value, lo, hi, n_steps, missing):  # noqa: ANN001, ANN202
    """:func:`~cellucid.sinks.folder.format.quantize.quantize_rows` of one value."""
    if not np.isfinite(value):
        return missing
    return min(max(np.rint((value - lo) * n_steps / (hi - lo)), 0.0), n_steps)


@njit_cached
def _fill_rows(
    data, indices, cursor, row_end, position, last_column, first, lo, hi, n_steps, missing, out
):  # noqa: ANN001, ANN202, E501
    """Write every stored value of columns ``<= last_column`` into ``out``, encoded.

    ``position[c]`` is the job row of matrix column ``c`` (-1: not exported); rows
    ``first:first + len(out)`` are this group. Cursors move past what was consumed.
    With ``n_steps`` > 0 the values become codes (``lo``/``hi`` per row, ``missing`` for
    NaN and infinities); with 0 they stay float32, infinities as NaN.
    """
    quantized = n_steps > 0
    for cell in range(cursor.shape[0]):
        k = cursor[cell]
        end = row_end[cell]
        while k < end and indices[k] <= last_column:
            row = position[indices[k]]
            if row >= 0:
                g = row - first
                if quantized:
                    out[g, cell] = _code(np.float64(data[k]), lo[g], hi[g], n_steps, missing)
                else:
                    v = np.float32(data[k])
                    out[g, cell] = np.nan if np.isinf(v) else v
            k += 1
        cursor[cell] = k


class CsrGeneGroups:
    """Encoded gene rows of one CSR block, for consecutive groups of its exported genes.

    Groups must be asked for in order (``first`` ascending, no gaps): the cell cursors
    only move forward. Use :func:`supports` first: the exported columns must be in
    ascending matrix order.

    Parameters
    ----------
    block
        A sparse block of cells (any scipy format; a non-canonical one is copied and its
        duplicates summed).
    columns
        The matrix column of each exported gene of the job, ascending.
    """

    def __init__(self, block: object, columns: np.ndarray) -> None:
        csr = canonical_csr(block)
        self.n_cells = csr.shape[0]
        self._data = csr.data
        self._indices = csr.indices
        self._cursor = csr.indptr[:-1].astype(np.int64)
        self._row_end = csr.indptr[1:].astype(np.int64)
        self._columns = np.asarray(columns, dtype=np.int64)
        self._position = np.full(csr.shape[1], -1, dtype=np.int64)
        self._position[self._columns] = np.arange(len(self._columns))
        self._next = 0
        self._buffer: np.ndarray | None = None

    @staticmethod
    def supports(columns: np.ndarray) -> bool:
        """Whether the exported columns are in ascending order (what the cursors need)."""
        return bool((np.diff(np.asarray(columns, dtype=np.int64)) > 0).all())

    def encode(
        self, first: int, stop: int, lo: np.ndarray | None, hi: np.ndarray | None, bits: int | None
    ) -> np.ndarray:
        """Rows ``first:stop`` of the job's genes over the block's cells.

        ``lo``/``hi`` are the ranges of these genes (``None`` unquantized); returns
        ``bits``-bit codes, or float32 when ``bits`` is None. The rows live in a buffer
        reused by the next call: use them before asking for the next group.
        """
        if first != self._next:
            raise ValueError(f"gene groups must come in order: expected {self._next}, got {first}")
        self._next = stop
        last_column = self._columns[stop - 1]
        codec = value_codec(bits)
        out = self._rows(stop - first, codec.dtype)
        if bits is None:
            out.fill(0)
            lo64 = hi64 = np.zeros(0)
            n_steps, missing = 0.0, np.float32(0)
        else:
            lo64, hi64 = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
            out[:] = quantize_rows(np.zeros(len(lo64)), lo64, hi64, bits)[:, None]
            n_steps, missing = float(codec.steps), out.dtype.type(codec.missing)
        _fill_rows(
            self._data, self._indices, self._cursor, self._row_end, self._position,
            last_column, first, lo64, hi64, n_steps, missing, out,
        )  # fmt: skip
        return out

    def _rows(self, n_rows: int, dtype: type) -> np.ndarray:
        # one buffer for every group of the block: a fresh array per group cost a page
        # fault per 4 KB, about as much as filling it
        if self._buffer is None or self._buffer.shape[0] < n_rows or self._buffer.dtype != dtype:
            self._buffer = np.empty((n_rows, self.n_cells), dtype=dtype)
        return self._buffer[:n_rows]
