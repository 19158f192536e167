"""Category centroids in normalised point coordinates and latent-space outlier quantiles."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import scipy.sparse as sp

# Latent sums are accumulated on this fixed grid of cells, then added in grid order, so
# the float64 result does not depend on the input's chunking.
LATENT_GRID = 65536


def _category_slices(codes: np.ndarray, n_categories: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell indices sorted by category (stable) and the start offset of each category."""
    valid = codes >= 0
    order = np.flatnonzero(valid)
    order = order[np.argsort(codes[order], kind="stable")]
    counts = np.bincount(codes[valid], minlength=n_categories)
    starts = np.concatenate([[0], np.cumsum(counts)])
    return order, starts


def centroids(
    points: np.ndarray,
    codes: np.ndarray,
    categories: list[str],
    min_points: int,
    quantile: float | None,
) -> list[dict]:
    """Centroid entries for one field and one dimension, as the spec defines them."""
    if quantile is None:
        return []
    order, starts = _category_slices(codes, len(categories))
    entries = []
    for index, name in enumerate(categories):
        members = points[order[starts[index] : starts[index + 1]]].astype(np.float64)
        count = members.shape[0]
        if count < min_points or count == 0:
            continue
        center = members.mean(axis=0)
        used = count
        if count > min_points:
            distances = np.sqrt(((members - center) ** 2).sum(axis=1))
            cutoff = np.quantile(distances, quantile)
            inliers = members[distances <= cutoff]
            if inliers.shape[0] >= min_points:
                center = inliers.mean(axis=0)
                used = inliers.shape[0]
        entries.append(
            {
                "category": name,
                "position": [float(v) for v in center.astype(np.float32)],
                "n_points": int(used),
            }
        )
    return entries


def _grid_sums(block: np.ndarray, codes_blocks: list[np.ndarray], sizes: list[int]) -> list:
    values = np.asarray(block, dtype=np.float32).astype(np.float64)
    sums = []
    for codes, size in zip(codes_blocks, sizes, strict=True):
        cells = np.flatnonzero(codes >= 0)
        # a one-hot (category x cell) product adds each category's rows in cell order, as a
        # bincount per dimension would (the same float64 sums), in one pass over the block
        one_hot = sp.csr_matrix(
            (np.ones(len(cells)), (codes[cells], cells)), shape=(size, values.shape[0])
        )
        sums.append(np.asarray(one_hot @ values))
    return sums


def latent_means(latent: da.Array, fields: list[tuple[np.ndarray, int]]) -> list[np.ndarray]:
    """Pass one over the latent space: the mean latent vector of every category of every field.

    ``fields`` holds (codes, n_categories) per categorical field.
    """
    if not fields:
        return []
    grid = latent.rechunk({0: LATENT_GRID, 1: -1})
    tasks = []
    start = 0
    for block in grid.to_delayed().ravel():
        stop = min(start + LATENT_GRID, latent.shape[0])
        codes_blocks = [codes[start:stop] for codes, _ in fields]
        tasks.append(dask.delayed(_grid_sums)(block, codes_blocks, [k for _, k in fields]))
        start = stop
    per_block = dask.compute(*tasks)
    means = []
    for index, (codes, size) in enumerate(fields):
        total = np.zeros((size, latent.shape[1]), dtype=np.float64)
        for sums in per_block:
            total += sums[index]
        counts = np.bincount(codes[codes >= 0], minlength=size).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            means.append(total / counts[:, None])
    return means


def _distances(block: np.ndarray, codes_blocks: list[np.ndarray], means: list) -> list:
    values = np.asarray(block, dtype=np.float32).astype(np.float64)
    out = []
    for codes, mean in zip(codes_blocks, means, strict=True):
        dist = np.full(values.shape[0], np.nan)
        valid = codes >= 0
        diff = values[valid] - mean[codes[valid]]
        dist[valid] = np.sqrt((diff * diff).sum(axis=1))
        out.append(dist)
    return out


def latent_distances(
    latent: da.Array, fields: list[tuple[np.ndarray, int]], means: list[np.ndarray]
) -> list[np.ndarray]:
    """Pass two over the latent space: every cell's distance to its category's mean."""
    if not fields:
        return []
    tasks = []
    start = 0
    for block in latent.rechunk({1: -1}).to_delayed().ravel():
        stop = start + latent.chunks[0][len(tasks)]
        codes_blocks = [codes[start:stop] for codes, _ in fields]
        tasks.append(dask.delayed(_distances)(block, codes_blocks, means))
        start = stop
    per_block = dask.compute(*tasks)
    return [np.concatenate([b[i] for b in per_block]) for i in range(len(fields))]


def outlier_quantiles(
    distances: np.ndarray, codes: np.ndarray, n_categories: int, min_points: int
) -> np.ndarray:
    """Per cell: the share of its category at a distance less than or equal to its own."""
    result = np.full(codes.shape[0], np.nan, dtype=np.float32)
    order, starts = _category_slices(codes, n_categories)
    for index in range(n_categories):
        members = order[starts[index] : starts[index + 1]]
        count = members.shape[0]
        if count < min_points or count == 0:
            continue
        member_dist = distances[members]
        ranked = np.sort(member_dist)
        at_most = np.searchsorted(ranked, member_dist, side="right")
        result[members] = (at_most / count).astype(np.float32)
    return result
