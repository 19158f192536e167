"""How the arrays of a Cellucid-ready AnnData store are cut into chunks, and their index types.

The web app reads a store itself, with HTTP range requests: every chunk costs one request and
one decode. So the layout follows how each array is read (the figures are upstream 0.9.5's,
measured on a 562k-cell atlas with the app's own reader):

- ``X/data`` and ``X/indices`` are read one gene's range at a time: chunks of
  :data:`SLICED_CHUNK_ELEMENTS`, so a gene costs little beyond its own values;
- every other array (obs and var columns, indexes, embeddings, the graph) is read whole:
  chunks of :data:`WHOLE_CHUNK_ELEMENTS` along its first axis;
- a 2-D array read by rows (an embedding) keeps all its columns in a chunk
  (:func:`row_chunks`); a dense expression matrix is read one gene at a time, so it is cut
  into tall strips of few genes (:func:`strip_chunks`).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import product

import numpy as np

#: Elements per chunk of an array the viewer reads by slices (``X/data``, ``X/indices``).
SLICED_CHUNK_ELEMENTS = 2**16

#: Elements per chunk (along the first axis) of an array the viewer reads whole.
WHOLE_CHUNK_ELEMENTS = 2**18

#: DEFLATE level of every compressed chunk; browsers inflate any level equally fast, and 6
#: (zlib's default) was upstream's measured balance of size and write time.
DEFLATE_LEVEL = 6

#: HDF5 gathers an ``.h5ad``'s metadata in blocks of this size: the web app's first read of a
#: remote file (metadata block) is 256 KiB.
H5AD_META_BLOCK_BYTES = 256 * 1024

#: HDF5 file format bounds of an ``.h5ad``: format 1.10 keeps a fixed-size array's chunk
#: addresses in one index in its header, so no chunk needs an index read of its own.
H5AD_LIBVER = ("v110", "v110")

#: How far into an ``.h5ad`` the values the web app needs to open it must lie (its first
#: request of a file).
H5AD_OPENING_BYTES = 512 * 1024

_INT32_MAX = np.iinfo(np.int32).max


def vector_chunks(length: int, target: int = WHOLE_CHUNK_ELEMENTS) -> tuple[int]:
    """Chunk shape of a 1-D array of ``length`` values: ``target`` values, at least one.

    An empty array still declares a one-element chunk (Zarr needs a positive chunk shape).
    """
    return (max(1, min(length, target)),)


def row_chunks(shape: tuple[int, int]) -> tuple[int, int]:
    """Chunk shape of a 2-D array read whole by rows: every column of a block of rows."""
    rows, columns = shape
    columns = max(1, columns)
    return (max(1, min(rows, WHOLE_CHUNK_ELEMENTS // columns)), columns)


def strip_chunks(shape: tuple[int, int]) -> tuple[int, int]:
    """Chunk shape of a dense expression matrix: tall strips of few genes (columns)."""
    rows, columns = shape
    strip_rows = max(1, min(rows, WHOLE_CHUNK_ELEMENTS))
    return (strip_rows, max(1, min(columns, WHOLE_CHUNK_ELEMENTS // strip_rows)))


def indptr_dtype(nnz: int) -> np.dtype:
    """Type of a sparse matrix's ``indptr``: int32 unless it holds 2^31 stored values or more."""
    return np.dtype(np.int64 if nnz >= 2**31 else np.int32)


def indices_dtype(axis_length: int) -> np.dtype:
    """Type of a sparse matrix's ``indices``: decided by the axis they index, not by nnz.

    int32 unless that axis (a CSC matrix's rows, a CSR matrix's columns) has more than
    2^31 - 1 entries: a matrix of billions of values over millions of cells keeps 4-byte
    positions, where scipy would widen them together with ``indptr``.
    """
    return np.dtype(np.int64 if axis_length > _INT32_MAX else np.int32)


def grid_shape(shape: tuple[int, ...], chunks: tuple[int, ...]) -> tuple[int, ...]:
    """Number of chunks along each axis (a 0-d array has one chunk, at ``()``)."""
    return tuple(-(-extent // size) for extent, size in zip(shape, chunks, strict=True))


def chunk_count(shape: tuple[int, ...], chunks: tuple[int, ...]) -> int:
    """Number of chunks of an array."""
    return int(np.prod(grid_shape(shape, chunks), dtype=np.int64))


def grid_positions(shape: tuple[int, ...], chunks: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    """Every chunk's grid position, in grid (C) order."""
    return product(*(range(count) for count in grid_shape(shape, chunks)))


def chunk_selection(
    position: tuple[int, ...], chunks: tuple[int, ...], shape: tuple[int, ...]
) -> tuple[slice, ...]:
    """The part of the array the chunk at ``position`` holds (shorter at the array's edge)."""
    return tuple(
        slice(index * size, min((index + 1) * size, extent))
        for index, size, extent in zip(position, chunks, shape, strict=True)
    )


def chunk_extent(
    position: tuple[int, ...], chunks: tuple[int, ...], shape: tuple[int, ...]
) -> tuple[int, ...]:
    """Shape of the values the chunk at ``position`` holds (before edge padding)."""
    return tuple(part.stop - part.start for part in chunk_selection(position, chunks, shape))
