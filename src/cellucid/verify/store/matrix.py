"""``X``: the expression matrix, gene-major, checked a bounded block at a time.

A sparse X is a ``csc_matrix`` (0.1.0) of shape ``(n_cells, n_genes)``: ``indptr`` of
``n_genes + 1`` non-decreasing pointers from 0 to nnz (int32, int64 from 2^31 stored values);
``indices`` the cells of each gene's values, strictly increasing within a gene and in
``[0, n_cells)`` (int32, int64 past 2^31 - 1 cells); ``data`` finite float32 (or float64),
explicit zeros dropped. A dense X is an ``array`` (0.2.0) of the same shape, finite.
"""

from __future__ import annotations

import numpy as np

from . import context as _context
from .context import Context, amount, number
from .read import Node
from .sparse import Issues, read_structure, report, scan

_WORDING = {
    "range": ("indices", "row indices outside [0, n_cells)", "row indices in [0, n_cells)"),
    "order": (
        "indices",
        "row indices not strictly increasing within their gene",
        "sorted, unique row indices within each gene",
    ),
    "finite": ("data", "non-finite values", "finite values"),
    "zero": ("data", "stored zeros", "explicit zeros dropped"),
}

#: The largest integer float32 holds exactly: counts above it need float64.
FLOAT32_EXACT_INTEGER_LIMIT = 2**24

_VALUE_TYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_x(ctx: Context) -> None:
    """The expression matrix, when present, against obs and var."""
    node = ctx.node("X")
    if node is None:
        if ctx.n_genes:
            ctx.add("X", "missing while var holds genes", "an expression matrix X")
        return
    shape = _expected_shape(ctx, node)
    if shape is None:
        return
    if not node.group:
        _check_dense(ctx, node, shape)
        return
    matrix = read_structure(ctx, "X", "csc_matrix", shape, "gene")
    if matrix is None:
        return
    data = ctx.node("X/data")
    if data.dtype not in _VALUE_TYPES:
        ctx.add("X/data", f"dtype {data.dtype}", "float32 (float64 for integer counts > 2^24)")
        return
    issues = scan(ctx, matrix)
    report(ctx, matrix, issues, _WORDING)
    if data.dtype == np.float64:
        check_wide_values(ctx, "X/data", issues.integral, issues.largest)


def check_wide_values(ctx: Context, path: str, integral: bool, largest: float) -> None:
    """float64 values only for integer counts of which one exceeds 2^24 (float32's exact range)."""
    if not integral:
        ctx.add(
            path,
            "float64 holding non-integer values",
            "float32 unless every value is an integer count and one exceeds 2^24",
        )
    elif largest <= FLOAT32_EXACT_INTEGER_LIMIT:
        ctx.add(
            path,
            f"float64 for integer counts up to {largest:,.0f}",
            "float32: every count up to 2^24 is exact in float32",
        )


def _expected_shape(ctx: Context, node: Node) -> tuple[int, int] | None:
    """``(n_cells, n_genes)`` from obs and var (falling back on X's own shape)."""
    own = node.attrs.get("shape") if node.group else list(node.shape or ())
    if not (isinstance(own, list) and len(own) == 2 and all(isinstance(v, int) for v in own)):
        ctx.add("X", f"shape {own!r}", "(n_cells, n_genes)")
        own = None
    cells = ctx.n_cells if ctx.n_cells is not None else (own[0] if own else None)
    genes = ctx.n_genes if ctx.n_genes is not None else (own[1] if own else None)
    if cells is None or genes is None:
        return None
    if own is not None and tuple(own) != (cells, genes):
        ctx.add(
            "X",
            f"shape {tuple(own)}",
            f"({cells:,}, {genes:,}): (n_cells, n_genes) of obs and var, cells by genes",
        )
    return cells, genes


def _check_dense(ctx: Context, node: Node, shape: tuple[int, int]) -> None:
    ctx.encoding(node, "array", "0.2.0")
    if node.shape != shape:
        return  # reported by the shape check; values cannot be located
    if node.dtype not in _VALUE_TYPES:
        ctx.add("X", f"dtype {node.dtype}", "float32 (float64 for integer counts > 2^24)")
        return
    cells, genes = shape
    step = max(1, min(genes, _context.BLOCK_ENTRIES // max(1, cells)))
    if node.chunks and len(node.chunks) == 2:
        # Whole chunk columns at a time: each chunk is decoded once.
        step = max(node.chunks[1], step // node.chunks[1] * node.chunks[1])
    count, first, measured = 0, None, Issues()
    for start in range(0, genes, step):
        strip = ctx.store.read("X", (slice(None), slice(start, min(genes, start + step))))
        if strip.dtype == np.float64:
            measured.measure(strip)
        bad = ~np.isfinite(strip)
        if bad.any():
            count += int(bad.sum())
            if first is None:
                cell, gene = np.argwhere(bad)[0]
                first = (int(cell), start + int(gene), strip[cell, gene])
    if count:
        cell, gene, value = first
        ctx.add(
            "X",
            f"{amount(count, 'non-finite value')} (first at cell {cell:,}, "
            f"gene {gene:,}: {number(value)})",
            "finite values",
        )
    if node.dtype == np.float64:
        check_wide_values(ctx, "X", measured.integral, measured.largest)
