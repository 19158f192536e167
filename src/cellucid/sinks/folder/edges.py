"""Edge pairs of the symmetrised KNN graph, extracted out of core.

Each block of rows yields its off-diagonal non-zero entries as unordered-pair keys
``min(i, j) * 2**32 + max(i, j)`` with their weights. Keys and weights are spilled to disk
in buckets by ``min(i, j)`` (one bucket per block of rows), so a bucket holds every
occurrence of its pairs. Buckets are then read in order, made unique (the weight of a pair
is ``max(C[i, j], C[j, i])``) and streamed to the three edge files: memory holds one
bucket, not the graph. The checks refuse negative and non-finite values beforehand, so
every weight written is finite and > 0.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import scipy.sparse as sp
from dask.local import get_sync

from cellucid.engine.heap import release_free_memory
from cellucid.engine.runner import active_client
from cellucid.progress import own_callbacks
from cellucid.sinks.folder.binary_files import BinaryStream
from cellucid.sinks.folder.format.codecs import Gzip

SHIFT = np.int64(2**32)


@dataclass(frozen=True)
class EdgeSummary:
    """What the manifest needs once the edges are written."""

    n_edges: int
    max_neighbors: int


def _bucket_file(spill_dir: str, bucket: int, block: int, kind: str) -> str:
    return os.path.join(spill_dir, f"edges-{bucket:05d}-{block:05d}.{kind}")


def _spill_block(
    block: object, block_index: int, row_start: int, bounds: np.ndarray, spill_dir: str
) -> None:
    """Write one block's pair keys and weights into bucket files."""
    coo = sp.coo_matrix(block) if sp.issparse(block) else sp.coo_matrix(np.asarray(block))
    rows = coo.row.astype(np.int64) + row_start
    cols = coo.col.astype(np.int64)
    keep = (rows != cols) & (coo.data != 0)
    rows, cols, weights = rows[keep], cols[keep], coo.data[keep].astype(np.float64)
    low = np.minimum(rows, cols)
    keys = low * SHIFT + np.maximum(rows, cols)
    bucket_of = np.searchsorted(bounds, low, side="right") - 1
    # numpy sorts 16-bit integers stably by radix: 4x faster than int64 keys here
    narrow = np.int16 if len(bounds) < 2**15 else np.int64
    order = np.argsort(bucket_of.astype(narrow), kind="stable")
    keys, weights, bucket_of = keys[order], weights[order], bucket_of[order]
    splits = np.searchsorted(bucket_of, np.arange(len(bounds) + 1))
    for bucket in range(len(bounds)):
        part = slice(splits[bucket], splits[bucket + 1])
        if part.stop > part.start:
            keys[part].tofile(_bucket_file(spill_dir, bucket, block_index, "keys"))
            weights[part].tofile(_bucket_file(spill_dir, bucket, block_index, "weights"))
    del coo, rows, cols, keep, weights, low, keys, bucket_of, order
    release_free_memory()  # runs on dask's own threads, not the task runner's


def _unique_pairs(spill_dir: str, bucket: int, n_blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """The bucket's unique pair keys, sorted, and the largest weight of each."""
    keys_parts, weight_parts = [], []
    for block in range(n_blocks):
        path = _bucket_file(spill_dir, bucket, block, "keys")
        if os.path.exists(path):
            keys_parts.append(np.fromfile(path, dtype=np.int64))
            weight_parts.append(
                np.fromfile(_bucket_file(spill_dir, bucket, block, "weights"), dtype=np.float64)
            )
    if not keys_parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    keys, weights = np.concatenate(keys_parts), np.concatenate(weight_parts)
    order = np.argsort(keys, kind="stable")
    keys, weights = keys[order], weights[order]
    # the keys are sorted: each run's first is where it differs from the one before
    # (np.unique would sort them once more)
    if len(keys) == 0:
        return keys, weights
    first = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    return keys[first], np.maximum.reduceat(weights, first)


def write_edges(
    matrix: da.Array,
    paths: tuple[Path, Path, Path],
    index_dtype: str,
    compression: int | None,
    spill_dir: Path,
) -> EdgeSummary:
    """Extract the edges of ``matrix`` (n × n) and stream them to the edge files.

    ``paths`` are the sources, destinations and weights files.
    """
    n = matrix.shape[0]
    spill_dir.mkdir(parents=True, exist_ok=True)
    bounds = np.concatenate([[0], np.cumsum(matrix.chunks[0])[:-1]]).astype(np.int64)
    blocks = matrix.rechunk({1: -1}).to_delayed().ravel()
    spill = dask.delayed(_spill_block, pure=False)
    # one block at a time unless a cluster runs it: the edges are written in a thread of
    # their own beside the other sections, and each block's pairs take ~70 bytes per entry
    local = {"scheduler": get_sync, "callbacks": own_callbacks()}  # see own_callbacks
    dask.compute(
        *[spill(b, i, int(bounds[i]), bounds, str(spill_dir)) for i, b in enumerate(blocks)],
        **({"scheduler": None} if active_client() is not None else local),
    )
    degree = np.zeros(n, dtype=np.int64)
    n_edges = 0
    src_path, dst_path, weights_path = paths
    with (
        BinaryStream(src_path, compression) as src,
        BinaryStream(dst_path, compression) as dst,
        BinaryStream(weights_path, compression) as weight_file,
    ):
        for bucket in range(len(bounds)):
            pairs, weights = _unique_pairs(str(spill_dir), bucket, len(blocks))
            low, high = pairs // SHIFT, pairs % SHIFT
            degree += np.bincount(low, minlength=n) + np.bincount(high, minlength=n)
            src.write(low.astype(index_dtype))
            dst.write(high.astype(index_dtype))
            weight_file.write(weights.astype("<f8"))
            n_edges += len(pairs)
    return EdgeSummary(n_edges, int(degree.max()) if n else 0)


def summarize_edge_files(src_path: Path, dst_path: Path, index_dtype: str, n: int) -> EdgeSummary:
    """Count the edges and the largest degree of edge files kept from an earlier run."""
    import gzip

    def read(path: Path) -> np.ndarray:
        gzipped = path.suffix == Gzip.SUFFIX
        raw = gzip.decompress(path.read_bytes()) if gzipped else path.read_bytes()
        return np.frombuffer(raw, dtype=index_dtype)

    src, dst = read(src_path), read(dst_path)
    degree = np.bincount(src, minlength=n) + np.bincount(dst, minlength=n)
    return EdgeSummary(len(src), int(degree.max()) if n else 0)
