"""``obsp/connectivities``: a CSR float32 neighbour graph, finite, non-negative, zero
diagonal, zeros dropped, and exactly symmetric.

Symmetry compares every entry ``(i, j, w)`` with the entry ``(j, i, w)``. A graph of up to
:data:`GRAPH_IN_MEMORY` entries is compared in memory: its entries sorted by (row, column)
against its transposed entries sorted the same way. A larger one is compared out of core: one
pass spills every transposed entry into the bucket of rows it belongs to (a temporary file
per bucket), then each bucket's spilled entries are sorted and compared with the same rows'
own entries, so memory holds one bucket at a time.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .context import Context, number
from .sparse import Compressed, blocks, majors_of, read_structure, report, scan

#: Graph entries compared in memory; more are compared bucket by bucket through disk.
GRAPH_IN_MEMORY = 1 << 24

_RECORD = np.dtype([("row", "<i8"), ("column", "<i8"), ("weight", "<f8")])

_WORDING = {
    "range": ("indices", "column indices outside [0, n_cells)", "column indices in [0, n_cells)"),
    "order": (
        "indices",
        "column indices not strictly increasing within their row",
        "sorted, unique column indices within each row",
    ),
    "diagonal": ("indices", "diagonal entries", "a zero diagonal: no stored entry (i, i)"),
    "finite": ("data", "non-finite weights", "finite weights"),
    "negative": ("data", "negative weights", "non-negative weights"),
    "zero": ("data", "stored zero weights", "zeros dropped, not stored"),
}


def check_graph(ctx: Context, path: str, n_cells: int, budget: int | None = None) -> None:
    """Every rule of the neighbour graph at ``path`` (``budget``: in-memory entry limit)."""
    matrix = read_structure(ctx, path, "csr_matrix", (n_cells, n_cells), "row")
    if matrix is None:
        return
    data = ctx.node(f"{path}/data")
    if data is not None and data.dtype != np.dtype(np.float32):
        ctx.add(data.path, f"dtype {data.dtype}", "float32")
    issues = scan(ctx, matrix, graph=True)
    report(ctx, matrix, issues, _WORDING)
    if matrix.indptr is None or issues.counts.get("range") or issues.counts.get("finite"):
        return
    limit = GRAPH_IN_MEMORY if budget is None else budget
    if matrix.nnz <= limit:
        rows, columns, weights = _entries(ctx, matrix, 0, matrix.major)
        mismatch = first_asymmetry(matrix.minor, (rows, columns, weights), (columns, rows, weights))
    else:
        mismatch = _bucketed_asymmetry(ctx, matrix, limit)
    if mismatch is not None:
        ctx.add(
            path,
            f"not exactly symmetric: {mismatch}",
            "an exactly symmetric graph, w(i, j) == w(j, i)",
        )


def _entries(
    ctx: Context, matrix: Compressed, first: int, end: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, columns and weights (as stored) of rows ``[first, end)``."""
    lo, hi = int(matrix.indptr[first]), int(matrix.indptr[end])
    columns = ctx.store.read(f"{matrix.path}/indices", slice(lo, hi)).astype(np.int64)
    weights = ctx.store.read(f"{matrix.path}/data", slice(lo, hi))
    return majors_of(matrix, first, end), columns, weights


def _keyed(
    rows: np.ndarray, columns: np.ndarray, weights: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Entries as one sorted key ``row * n + column`` each, with their weights."""
    keys = rows * n + columns
    if keys.size > 1 and not bool((keys[1:] > keys[:-1]).all()):
        order = np.argsort(keys)
        keys, weights = keys[order], weights[order]
    return keys, weights


def first_asymmetry(
    n: int, forward: tuple[np.ndarray, ...], mirrored: tuple[np.ndarray, ...]
) -> str | None:
    """The first entry without its mirror, or None when the two entry sets are equal.

    ``forward`` holds ``(row, column, weight)`` of some rows' entries; ``mirrored`` the
    transposed entries ``(column, row, weight)`` landing in the same rows; ``n`` the number
    of columns. Sorted CSR rows are already in key order, so only the mirror is sorted.
    """
    fk, fw = _keyed(*forward, n)
    tk, tw = _keyed(*mirrored, n)
    shared = min(fk.size, tk.size)
    hits = np.flatnonzero((fk[:shared] != tk[:shared]) | (fw[:shared] != tw[:shared]))
    if hits.size == 0 and fk.size == tk.size:
        return None
    k = int(hits[0]) if hits.size else shared
    f_key = int(fk[k]) if k < fk.size else None
    t_key = int(tk[k]) if k < tk.size else None
    if f_key is not None and (t_key is None or f_key < t_key):
        row, column = divmod(f_key, n)
        return f"w({row}, {column}) = {number(fw[k])} but w({column}, {row}) is absent"
    if t_key is not None and (f_key is None or t_key < f_key):
        row, column = divmod(t_key, n)
        return f"w({column}, {row}) = {number(tw[k])} but w({row}, {column}) is absent"
    row, column = divmod(f_key, n)
    return f"w({row}, {column}) = {number(fw[k])} but w({column}, {row}) = {number(tw[k])}"


def _row_buckets(matrix: Compressed, budget: int) -> np.ndarray:
    """Row bounds of buckets of at most ``budget`` entries (or one row when it has more)."""
    pointers = matrix.indptr
    bounds = [0]
    while bounds[-1] < matrix.major:
        first = bounds[-1]
        end = int(np.searchsorted(pointers, pointers[first] + budget, side="right")) - 1
        bounds.append(min(matrix.major, max(end, first + 1)))
    return np.asarray(bounds, dtype=np.int64)


def _bucketed_asymmetry(ctx: Context, matrix: Compressed, budget: int) -> str | None:
    bounds = _row_buckets(matrix, budget)
    count = bounds.size - 1
    with tempfile.TemporaryDirectory(prefix="cellucid-validate-") as folder:
        spills = [Path(folder, f"{bucket}.bin") for bucket in range(count)]
        _spill_transposed(ctx, matrix, bounds, spills)
        for bucket in range(count):
            mirrored = np.fromfile(spills[bucket], dtype=_RECORD)
            spills[bucket].unlink()
            forward = _entries(ctx, matrix, int(bounds[bucket]), int(bounds[bucket + 1]))
            found = first_asymmetry(
                matrix.minor, forward, (mirrored["row"], mirrored["column"], mirrored["weight"])
            )
            if found is not None:
                return found
    return None


def _spill_transposed(
    ctx: Context, matrix: Compressed, bounds: np.ndarray, spills: list[Path]
) -> None:
    """Write every entry ``(i, j, w)`` as ``(j, i, w)`` into the bucket holding row ``j``."""
    files = [path.open("wb") for path in spills]
    try:
        for first, end, lo, hi in blocks(matrix):
            if hi <= lo:
                continue
            columns = ctx.store.read(f"{matrix.path}/indices", slice(lo, hi)).astype(np.int64)
            weights = ctx.store.read(f"{matrix.path}/data", slice(lo, hi)).astype(np.float64)
            rows = majors_of(matrix, first, end)
            bucket = np.searchsorted(bounds, columns, side="right") - 1
            order = np.argsort(bucket, kind="stable")
            records = np.empty(order.size, dtype=_RECORD)
            records["row"], records["column"] = columns[order], rows[order]
            records["weight"] = weights[order]
            splits = np.searchsorted(bucket[order], np.arange(len(files) + 1))
            for index, handle in enumerate(files):
                handle.write(records[splits[index] : splits[index + 1]].tobytes())
    finally:
        for handle in files:
            handle.close()
