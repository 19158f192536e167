"""The stored outlier quantiles, recomputed from the latent space and compared exactly.

``uns['cellucid']['outlierQuantiles']['fields']`` holds, for every obs column the viewer
shows as categories (a categorical, text, boolean or nullable-boolean column) with at least
one category of ``minPoints`` cells, one float32 per cell: its category's share of cells at
its distance to the category's centroid or closer, in the latent space ``obsm[latentKey]``.
The rule (the contract's, which the web app computes the same way):

1. a category's centroid is, per column, the float64 sum of its cells' values accumulated in
   cell order, divided by its cell count;
2. a cell's distance is the square root of its squared differences from that centroid,
   accumulated column by column in column order;
3. its quantile is the count of its category's cells at that distance or closer divided by
   the category's count, both as float32.

Cells of categories under ``minPoints`` and missing values are NaN. The latent space is an
embedding (per-cell values), held in memory while the quantiles are recomputed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .context import Context, amount, number

_RULE = "each cell's share of its category at its distance from the centroid or closer"


def partition(ctx: Context, column: str) -> tuple[np.ndarray, int] | None:
    """An obs column as category codes (-1 missing) and a category count; None if not one."""
    kind = ctx.obs_kinds.get(column)
    path = f"obs/{column}"
    if kind == "categorical":
        codes = ctx.store.read(f"{path}/codes").astype(np.int64)
        return codes, int(ctx.node(f"{path}/categories").shape[0])
    if kind == "array:b":
        return ctx.store.read(path).astype(np.int64), 2
    if kind == "nullable-boolean":
        codes = ctx.store.read(f"{path}/values").astype(np.int64)
        codes[ctx.store.read(f"{path}/mask").astype(bool)] = -1
        return codes, 2
    if kind == "string-array":
        labels, codes = np.unique(ctx.store.read(path).astype(str), return_inverse=True)
        return codes.astype(np.int64).reshape(-1), int(labels.size)
    return None


def _counts(codes: np.ndarray, n_categories: int) -> np.ndarray:
    valid = codes[(codes >= 0) & (codes < n_categories)]
    return np.bincount(valid, minlength=n_categories)


def recompute(
    latent: np.ndarray, codes: np.ndarray, n_categories: int, min_points: int
) -> np.ndarray:
    """One float32 quantile per cell by the module's rule (NaN where none)."""
    quantiles = np.full(codes.size, np.nan, dtype=np.float32)
    counts = _counts(codes, n_categories)
    scored = np.flatnonzero(counts >= min_points)
    valid = (codes >= 0) & (codes < n_categories)
    cells = np.flatnonzero(valid & np.isin(codes, scored))
    if cells.size == 0:
        return quantiles
    group = codes[cells]
    squared = np.zeros(cells.size, dtype=np.float64)
    for column in range(latent.shape[1]):
        values = latent[cells, column].astype(np.float64)
        # bincount adds each bin's weights one by one in the order given: cell order.
        sums = np.bincount(group, weights=values, minlength=n_categories)
        difference = values - (sums / np.maximum(counts, 1))[group]
        squared += difference * difference
    distance = np.sqrt(squared)
    by_category = np.argsort(group, kind="stable")
    starts = np.concatenate(([0], np.cumsum(np.bincount(group, minlength=n_categories))))
    for category in scored:
        members = by_category[starts[category] : starts[category + 1]]
        own = distance[members]
        at_most = np.searchsorted(np.sort(own), own, side="right")
        quantiles[cells[members]] = at_most.astype(np.float32) / np.float32(members.size)
    return quantiles


def check_quantile_values(
    ctx: Context, fields: dict[str, Any], latent_key: Any, min_points: Any
) -> None:
    """The fields present are exactly the columns that get quantiles, with the right values."""
    base = "uns/cellucid/outlierQuantiles/fields"
    node = ctx.node(f"obsm/{latent_key}") if isinstance(latent_key, str) else None
    if (
        node is None
        or node.group
        or node.dtype != np.dtype(np.float32)
        or type(min_points) is not int
        or ctx.n_cells is None
        or node.shape != (ctx.n_cells, ctx.obsm_widths.get(latent_key))
    ):
        return  # each of these is reported by its own rule
    latent = None
    for column in ctx.obs_columns:
        found = partition(ctx, column)
        if found is None:
            continue
        codes, n_categories = found
        wanted = bool((_counts(codes, n_categories) >= min_points).any())
        if wanted and column not in fields:
            ctx.add(
                f"{base}/{column}",
                "missing",
                f"quantiles for obs column {column!r}, "
                f"which has a category of at least {min_points} cells",
            )
        elif not wanted and column in fields:
            ctx.add(
                f"{base}/{column}",
                "present",
                f"none: no category of {column!r} has {min_points} cells",
            )
        stored = fields.get(column)
        if not (
            wanted
            and isinstance(stored, np.ndarray)
            and stored.shape == codes.shape
            and stored.dtype == np.float32
        ):
            continue
        latent = ctx.store.read(node.path) if latent is None else latent
        _compare(
            ctx,
            f"{base}/{column}",
            stored,
            recompute(latent, codes, n_categories, min_points),
            latent_key,
        )


def _compare(
    ctx: Context, path: str, stored: np.ndarray, expected: np.ndarray, latent_key: str
) -> None:
    same = (stored == expected) | (np.isnan(stored) & np.isnan(expected))
    differ = np.flatnonzero(~same)
    if differ.size:
        at = int(differ[0])
        ctx.add(
            path,
            f"differs from the quantiles recomputed in obsm[{latent_key!r}] at "
            f"{amount(differ.size, 'cell')} (first at cell {at:,}: {number(stored[at])} "
            f"stored, {number(expected[at])} recomputed)",
            _RULE,
        )
