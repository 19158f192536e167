"""Latent-space outlier quantiles: ``uns['cellucid']['outlierQuantiles']``.

For each obs column the viewer treats as categories, each cell's quantile is the share of
its category at its distance from the category's centre, or closer, in the latent space
(``latent_key``). The arithmetic is fixed, so the web app, cellucid-r and 0.9.5 store the
same bytes. Over the latent values as stored (float32, widened exactly to float64), for
each category with at least ``min_points`` cells:

1. the centre is each column's sum, added cell by cell in cell order, divided by the
   cell count;
2. a cell's distance is the square root of its squared differences from the centre,
   added column by column in column order;
3. its quantile is the count of the category's cells at that distance or closer, over
   the category's cell count, both float32 (a float32 division).

Cells of smaller categories and cells with a missing value get NaN. A column none of
whose categories reaches ``min_points`` gets no entry.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: The fewest cells a category needs for quantiles unless ``centroid_min_points`` says.
DEFAULT_MIN_POINTS = 10


def category_codes(column: Any) -> tuple[np.ndarray, int] | None:
    """A stored obs column as int64 category codes (-1 missing) and the category count.

    Categoricals, booleans (nullable or not) and string arrays (each value its own
    category) are categories; numbers are not (None).
    """
    if isinstance(column, pd.Categorical):
        return np.asarray(column.codes, dtype=np.int64), len(column.categories)
    if isinstance(column, pd.arrays.BooleanArray):
        return column.to_numpy(dtype=np.int64, na_value=-1), 2
    if isinstance(column, np.ndarray) and column.dtype.kind == "b":
        return column.astype(np.int64), 2
    if isinstance(column, np.ndarray) and column.dtype.kind == "O":
        labels, codes = np.unique(column.astype(str), return_inverse=True)
        return codes.reshape(-1).astype(np.int64), len(labels)
    return None


def _distances(
    latent: np.ndarray, cells: np.ndarray, group: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """Each scored cell's distance from its category's centre (steps 1 and 2)."""
    squared = np.zeros(cells.size, dtype=np.float64)
    divisor = np.maximum(counts, 1)
    for column in range(latent.shape[1]):
        values = latent[cells, column].astype(np.float64)
        # A weighted bincount adds the weights one by one in input order: cell order.
        centres = np.bincount(group, weights=values, minlength=counts.size) / divisor
        difference = values - centres[group]
        squared += difference * difference
    return np.sqrt(squared)


def _at_most(group: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """For each cell, its category's cells at its distance or closer (step 3)."""
    order = np.lexsort((distance, group))
    ranked_group, ranked_distance = group[order], distance[order]
    size = order.size
    starts_run = np.ones(size, dtype=bool)
    starts_run[1:] = (ranked_group[1:] != ranked_group[:-1]) | (
        ranked_distance[1:] != ranked_distance[:-1]
    )
    run = np.cumsum(starts_run) - 1
    run_stop = np.append(np.flatnonzero(starts_run)[1:], size)
    group_start = np.searchsorted(ranked_group, ranked_group, side="left")
    counted = np.empty(size, dtype=np.int64)
    counted[order] = run_stop[run] - group_start
    return counted


def outlier_quantiles(
    latent: np.ndarray, codes: np.ndarray, n_categories: int, min_points: int
) -> np.ndarray:
    """One float32 quantile per cell by the module's rule; NaN where none.

    Parameters
    ----------
    latent
        ``(n_cells, width)`` float32, as stored.
    codes
        One category code per cell; a code outside ``[0, n_categories)`` is missing.
    n_categories
        The category count.
    min_points
        The fewest cells a category needs.
    """
    if latent.dtype != np.float32 or latent.ndim != 2:
        raise TypeError("The latent space must be a 2-D float32 array.")
    codes = np.asarray(codes, dtype=np.int64)
    quantiles = np.full(latent.shape[0], np.nan, dtype=np.float32)
    valid = (codes >= 0) & (codes < n_categories)
    counts = np.bincount(codes[valid], minlength=n_categories)
    scored = np.zeros(codes.size, dtype=bool)
    scored[valid] = counts[codes[valid]] >= min_points
    cells = np.flatnonzero(scored)
    if cells.size:
        group = codes[cells]
        counted = _at_most(group, _distances(latent, cells, group, counts))
        quantiles[cells] = counted.astype(np.float32) / counts[group].astype(np.float32)
    return quantiles


def stored_outlier_quantiles(
    obs: dict[str, Any], latent_key: str, latent: np.ndarray, min_points: int
) -> dict[str, Any]:
    """``{latentKey, minPoints, fields}``: the quantiles of every categorical obs column.

    Parameters
    ----------
    obs
        The stored obs columns (:func:`~.frames.frame_column`).
    latent_key, latent
        The latent space's obsm key and its stored float32 values.
    min_points
        The fewest cells a category needs.
    """
    fields: dict[str, np.ndarray] = {}
    for name, column in obs.items():
        partition = category_codes(column)
        if partition is None:
            continue
        codes, n_categories = partition
        present = codes[(codes >= 0) & (codes < n_categories)]
        if (np.bincount(present, minlength=n_categories) >= min_points).any():
            fields[name] = outlier_quantiles(latent, codes, n_categories, min_points)
    return {"latentKey": latent_key, "minPoints": min_points, "fields": fields}
