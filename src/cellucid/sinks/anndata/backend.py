"""What every container of a Cellucid-ready AnnData store offers, and the parallel chunk path.

A container (``containers/``: a Zarr folder, a ``.zarr.zip``, an ``.h5ad``) is written in two
phases: every group and array is *declared* first, with all its attributes (an ``.h5ad``
needs this so its metadata and attribute strings sit together at the start of the file), then
the *values* are written, array by array (:meth:`Container.write`) and, for the expression
matrix, chunk by chunk as they are streamed (:meth:`Container.write_chunks`).

Chunks are encoded by a pool of threads (zlib-ng and Blosc release the interpreter lock)
through :func:`ordered_map`, which keeps a bounded window of chunks in flight and yields the
results in submission order, so memory holds a few chunks per thread and a container that
stores chunks in order (HDF5) gets them in order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np

from .layout import chunk_count, chunk_extent, grid_shape

#: One streamed chunk: the array's path ("X/data"), its grid position, and its values (an
#: edge chunk is shorter than the chunk shape).
Chunk = tuple[str, tuple[int, ...], np.ndarray]

#: Chunks in flight per encoding thread.
CHUNKS_PER_WORKER = 4

Result = TypeVar("Result")


@dataclass(frozen=True)
class ArraySpec:
    """One declared array.

    Attributes
    ----------
    path
        Path from the root, ``/``-separated (``"obs/cell_type/codes"``).
    shape, dtype, chunks
        The array's shape, stored type (``object`` for strings) and chunk shape.
    attrs
        Its attributes (``encoding-type`` ...; none for a sparse matrix's inner arrays).
    shuffle
        Whether multi-byte values are byte-shuffled before DEFLATE (false for expression
        values only).
    """

    path: str
    shape: tuple[int, ...]
    dtype: np.dtype
    chunks: tuple[int, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    shuffle: bool = True

    @property
    def strings(self) -> bool:
        """Whether the array holds strings."""
        return self.dtype.kind == "O"

    @property
    def fill_value(self) -> Any:
        """The fill value: ``""`` for strings, zero of the type otherwise."""
        return "" if self.strings else np.zeros((), dtype=self.dtype).item()

    @property
    def chunk_count(self) -> int:
        """Number of chunks of the array."""
        return chunk_count(self.shape, self.chunks)


class Container(Protocol):
    """A store being written: declarations first, then values."""

    def group(self, path: str, attrs: Mapping[str, Any]) -> None:
        """Declare a group (``""`` is the root) with its attributes."""

    def array(self, spec: ArraySpec) -> None:
        """Declare an array with its attributes and codecs."""

    def write(self, path: str, values: np.ndarray) -> None:
        """Write all values of a declared array at once."""

    def write_chunks(self, chunks: Iterable[Chunk], paths: Sequence[str]) -> dict[str, int]:
        """Write the streamed chunks of the declared arrays ``paths``, every chunk once.

        Returns the chunks received per array; raises if a chunk is missing.
        """

    def close(self) -> None:
        """Finish the store (consolidated metadata, the archive) and release it."""

    def abort(self) -> None:
        """Release the store after a failure, leaving nothing but the target path."""


def ordered_map(
    pool: ThreadPoolExecutor,
    function: Callable[..., Result],
    items: Iterable[tuple[Any, ...]],
    window: int,
) -> Iterator[Result]:
    """``function(*item)`` for every item on ``pool``, yielded in order, ``window`` in flight.

    ``items`` is consumed in the calling thread only, so a generator need not be thread-safe.
    Pending work is cancelled if the caller stops early or an item fails.
    """
    pending: deque[Future[Result]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(function, *item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


def padded(values: np.ndarray, chunks: tuple[int, ...], fill: Any) -> np.ndarray:
    """An edge chunk's values padded with ``fill`` to the full chunk shape.

    Zarr and HDF5 both store every chunk of a regular grid at full size.
    """
    if values.shape == chunks:
        return values
    full = np.full(chunks, fill, dtype=values.dtype)
    full[tuple(slice(0, extent) for extent in values.shape)] = values
    return full


def all_fill(values: np.ndarray) -> bool:
    """Whether every value equals the fill value (``""`` or zero), as zarr-python decides.

    zarr-python stores no such chunk. Zero is compared by bit pattern, so a ``-0.0`` is kept.
    """
    if values.dtype.kind == "O":
        return not any(values.ravel())
    return not np.ascontiguousarray(values).view(np.uint8).any()


def checked_chunk(spec: ArraySpec, position: tuple[int, ...], values: Any) -> np.ndarray:
    """A streamed chunk's values at the array's type, after checking their shape."""
    values = np.asarray(values)
    expected = chunk_extent(position, spec.chunks, spec.shape)
    if values.shape != expected:
        raise ValueError(
            f"{spec.path}: chunk {position} has shape {values.shape}, expected {expected}"
        )
    if values.dtype != spec.dtype:
        values = values.astype(spec.dtype, casting="same_kind")
    return values


class ChunkLedger:
    """Which chunks of the streamed arrays arrived: each once, all of them by the end.

    With ``in_order`` every array's chunks must arrive in grid order (arrays may interleave).
    """

    def __init__(self, specs: Mapping[str, ArraySpec], *, in_order: bool = False) -> None:
        self.specs = dict(specs)
        self.in_order = in_order
        self._seen = {path: bytearray(spec.chunk_count) for path, spec in self.specs.items()}
        self.received = dict.fromkeys(self.specs, 0)

    def receive(self, path: str, position: tuple[int, ...]) -> int:
        """Record one chunk; returns its index in grid order."""
        spec = self.specs.get(path)
        if spec is None:
            raise ValueError(f"{path!r} is not an array of this stream: {sorted(self.specs)}")
        grid = grid_shape(spec.shape, spec.chunks)
        position = tuple(int(index) for index in position)
        if len(position) != len(grid) or any(
            not 0 <= p < n for p, n in zip(position, grid, strict=True)
        ):
            raise ValueError(f"{path}: chunk {position} is outside the chunk grid {grid}")
        index = int(np.ravel_multi_index(position, grid)) if grid else 0
        if self._seen[path][index]:
            raise ValueError(f"{path}: chunk {position} arrived twice")
        if self.in_order and index != self.received[path]:
            raise ValueError(f"{path}: chunk {position} arrived out of grid order")
        self._seen[path][index] = 1
        self.received[path] += 1
        return index

    def complete(self, path: str) -> bool:
        """Whether every chunk of ``path`` arrived."""
        return self.received[path] == self.specs[path].chunk_count

    def finish(self) -> dict[str, int]:
        """The chunks received per array; raises unless every chunk arrived."""
        missing = {
            path: f"{count} of {self.specs[path].chunk_count}"
            for path, count in self.received.items()
            if not self.complete(path)
        }
        if missing:
            raise ValueError(f"the stream ended before every chunk arrived: {missing}")
        return dict(self.received)


def make_pool(workers: int) -> ThreadPoolExecutor:
    """The encoding threads of one container."""
    return ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="store-encode")
