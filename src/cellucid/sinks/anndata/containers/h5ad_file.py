"""A Cellucid-ready AnnData as one ``.h5ad`` (HDF5) file that opens with one read of its start.

HDF5 gathers metadata (object headers, attributes, chunk indexes) in blocks of
:data:`~..layout.H5AD_META_BLOCK_BYTES`, the first one at the file's start, and file format
1.10 (:data:`~..layout.H5AD_LIBVER`) keeps a fixed-size dataset's chunk addresses in one index
in its header. Every group and array is declared before any value (the writers' contract),
so the attributes' strings, which HDF5 keeps in global heap collections placed among the
values written so far, sit together right after the metadata. The values are written in the
order the writers ask for: first what the web app reads to open the file, then the rest, the
bulk of ``X`` last, so the first :data:`~..layout.H5AD_OPENING_BYTES` open it.

Numeric chunks are encoded on our threads exactly as HDF5's filters would store them
(shuffle, then a zlib stream; an edge chunk padded with zeros to the full chunk) and stored
with HDF5's direct chunk write, in grid order, so the layout is what HDF5 itself writes:
each array's chunks lie together, in order. Strings and 0-d values are written by h5py.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..backend import (
    CHUNKS_PER_WORKER,
    ArraySpec,
    Chunk,
    ChunkLedger,
    checked_chunk,
    make_pool,
    ordered_map,
    padded,
)
from ..codecs import CodecChain, Zlib, hdf5_chain
from ..layout import H5AD_LIBVER, H5AD_META_BLOCK_BYTES, chunk_selection, grid_positions


def _chunked(spec: ArraySpec) -> bool:
    # HDF5 refuses chunks on an empty dataset, and compresses no scalar
    return len(spec.shape) > 0 and int(np.prod(spec.shape)) > 0


class H5adFile:
    """An ``.h5ad`` being written (see the module docstring).

    Parameters
    ----------
    path
        The file to create.
    workers
        Threads encoding chunks.
    """

    def __init__(self, path: Path, workers: int) -> None:
        import h5py

        self.path = path
        self._file = h5py.File(path, "w", libver=H5AD_LIBVER, meta_block_size=H5AD_META_BLOCK_BYTES)
        self._specs: dict[str, ArraySpec] = {}
        self._chains: dict[str, CodecChain] = {}
        self._pool = make_pool(workers)
        self._window = CHUNKS_PER_WORKER * max(1, workers)

    # -- declarations -------------------------------------------------------------------------

    def group(self, path: str, attrs: Mapping[str, Any]) -> None:
        """Declare a group (``""``: the root) with its attributes."""
        node = self._file if not path else self._file.create_group(path)
        node.attrs.update(dict(attrs))

    def array(self, spec: ArraySpec) -> None:
        """Declare a dataset with its attributes and filters; no value is written yet."""
        import h5py

        options: dict[str, Any] = {}
        if spec.strings:
            dtype: Any = h5py.string_dtype()
            if _chunked(spec):
                options = {"chunks": spec.chunks, **Zlib().hdf5()}
        else:
            dtype = spec.dtype
            if _chunked(spec):
                chain = hdf5_chain(spec.dtype, shuffle=spec.shuffle)
                options = {"chunks": spec.chunks, **chain.hdf5()}
                self._chains[spec.path] = chain
        dataset = self._file.create_dataset(spec.path, shape=spec.shape, dtype=dtype, **options)
        dataset.attrs.update(dict(spec.attrs))
        self._specs[spec.path] = spec

    # -- values -------------------------------------------------------------------------------

    def write(self, path: str, values: np.ndarray) -> None:
        """Write every value of a declared dataset, and place it in the file now."""
        spec = self._spec(path)
        values = np.asarray(values)
        if path in self._chains:
            chunks = (
                (path, position, values[chunk_selection(position, spec.chunks, spec.shape)])
                for position in grid_positions(spec.shape, spec.chunks)
            )
            self.write_chunks(chunks, [path])
            return
        if values.size:
            dataset = self._file[path]
            dataset[...] = values.astype(object) if spec.strings else values.astype(spec.dtype)
            # HDF5 keeps small chunks in its cache until flushed: place them now, in order
            dataset.flush()

    def write_chunks(self, chunks: Iterable[Chunk], paths: Sequence[str]) -> dict[str, int]:
        """Store streamed chunks of the datasets ``paths``, each dataset's in grid order.

        The datasets are stored one after the other in the order of ``paths``: chunks of a
        later dataset that arrive while an earlier one is incomplete (interleaved streams) are
        encoded and spooled to a temporary file beside the output, then copied after it.
        Returns the number of chunks received per dataset; raises if one is missing.
        """
        specs = {path: self._spec(path) for path in paths}
        for path in paths:
            if specs[path].chunk_count and path not in self._chains:
                raise ValueError(f"{path!r} is not a chunked numeric dataset")
        ledger = ChunkLedger(specs, in_order=True)
        with _Placement(self, ledger, list(paths)) as placement:
            for path, position, data in ordered_map(
                self._pool, self._encode, self._jobs(chunks, ledger), self._window
            ):
                placement.place(path, position, data)
        return ledger.finish()

    def _jobs(self, chunks: Iterable[Chunk], ledger: ChunkLedger) -> Iterator[tuple[Any, ...]]:
        for path, position, values in chunks:
            ledger.receive(path, position)
            yield self._specs[path], tuple(int(index) for index in position), values

    def _encode(
        self, spec: ArraySpec, position: tuple[int, ...], values: Any
    ) -> tuple[str, tuple[int, ...], bytes]:
        values = checked_chunk(spec, position, values)
        data = self._chains[spec.path].encode(padded(values, spec.chunks, 0))
        return spec.path, position, data

    def store_chunk(self, path: str, position: tuple[int, ...], data: bytes) -> None:
        """Store one encoded chunk with HDF5's direct chunk write (all filters applied)."""
        spec = self._specs[path]
        offset = tuple(index * size for index, size in zip(position, spec.chunks, strict=True))
        self._file[path].id.write_direct_chunk(offset, data, 0)

    def flush(self, path: str) -> None:
        """Flush one dataset."""
        self._file[path].flush()

    def _spec(self, path: str) -> ArraySpec:
        try:
            return self._specs[path]
        except KeyError:
            raise ValueError(f"{path!r} is not a declared dataset") from None

    # -- the end ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the file and stop the encoding threads."""
        self._pool.shutdown()
        self._file.close()

    def abort(self) -> None:
        """Close after a failure (the caller removes the file)."""
        self._pool.shutdown(cancel_futures=True)
        self._file.close()


class _Placement:
    """Stores encoded chunks of several datasets so each dataset's lie together, in order."""

    def __init__(self, file: H5adFile, ledger: ChunkLedger, paths: list[str]) -> None:
        self.file = file
        self.ledger = ledger
        self.paths = paths
        self.active = 0
        self.placed = dict.fromkeys(paths, 0)
        self.spooled: dict[str, list[tuple[tuple[int, ...], int, int]]] = {p: [] for p in paths}
        self.spool: IO[bytes] | None = None

    def __enter__(self) -> _Placement:
        self._advance()
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if exc_info[0] is None:
                self._advance()
        finally:
            if self.spool is not None:
                self.spool.close()

    def place(self, path: str, position: tuple[int, ...], data: bytes) -> None:
        """Store a chunk now if its dataset is the one being stored, else spool it."""
        if self.active < len(self.paths) and path == self.paths[self.active]:
            self._store(path, position, data)
            self._advance()
            return
        if self.spool is None:
            self.spool = tempfile.TemporaryFile(dir=self.file.path.parent, prefix=".spool-")
        offset = self.spool.seek(0, 2)
        self.spool.write(data)
        self.spooled[path].append((position, offset, len(data)))

    def _store(self, path: str, position: tuple[int, ...], data: bytes) -> None:
        self.file.store_chunk(path, position, data)
        self.placed[path] += 1

    def _advance(self) -> None:
        """Move past every dataset whose chunks are all stored, storing its successors' spool."""
        while self.active < len(self.paths):
            path = self.paths[self.active]
            for position, offset, size in self.spooled[path]:
                assert self.spool is not None
                self.spool.seek(offset)
                self._store(path, position, self.spool.read(size))
            self.spooled[path].clear()
            if self.placed[path] < self.ledger.specs[path].chunk_count:
                return
            self.file.flush(path)
            self.active += 1
