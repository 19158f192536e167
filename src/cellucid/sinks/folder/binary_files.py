"""Binary payload files of an export folder: plain or one gzip member compressed in pieces."""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import numpy as np

from cellucid.engine.files import atomic_file
from cellucid.sinks.folder.format.gzip_pieces import MemberAssembler, Piece, compress_piece

# Raw bytes per gzip piece of a file written from memory: a fixed grid, so the bytes do
# not depend on how the values were computed.
PIECE_BYTES = 4 << 20

_PIECE_POOL: list[ThreadPoolExecutor] = []
_PIECE_POOL_LOCK = threading.Lock()


def iter_pieces(raw: memoryview, piece_bytes: int | None = None) -> Iterable[memoryview]:
    """Fixed-size slices of a byte buffer (at least one, possibly empty)."""
    piece_bytes = piece_bytes or PIECE_BYTES
    if len(raw) == 0:
        yield raw
        return
    for start in range(0, len(raw), piece_bytes):
        yield raw[start : start + piece_bytes]


def _piece_pool() -> ThreadPoolExecutor:
    """One shared pool of a thread per core for compressing pieces (zlib-ng drops the GIL)."""
    with _PIECE_POOL_LOCK:
        if not _PIECE_POOL:
            workers = os.cpu_count() or 1
            _PIECE_POOL.append(ThreadPoolExecutor(workers, thread_name_prefix="cellucid-gzip"))
        return _PIECE_POOL[0]


class BinaryStream:
    """Appends arrays to one binary file, framed as a single gzip member when asked.

    Bytes are cut into pieces on a fixed grid of ``PIECE_BYTES``, whatever the sizes of
    the arrays written, so the file's bytes depend only on its content. Whole pieces are
    compressed in the background on every core while the caller goes on computing, and
    written in order; at most two per core are in flight. The file appears under its
    final name when the stream is closed without error.
    """

    def __init__(self, path: Path, compression: int | None) -> None:
        self.path = path
        self.compression = compression
        self._assembler = MemberAssembler(compressed=bool(compression))
        self._buffer = bytearray()
        self._context = atomic_file(path)
        self._handle: BinaryIO | None = None
        self._pending: deque[Future[Piece]] = deque()
        self._max_pending = 2 * (os.cpu_count() or 1)

    def __enter__(self) -> BinaryStream:
        self._handle = self._context.__enter__()
        self._handle.write(self._assembler.start())
        return self

    def write(self, array: np.ndarray) -> None:
        data = np.ascontiguousarray(array)
        if data.dtype.byteorder == ">":
            data = data.astype(data.dtype.newbyteorder("<"))
        self._buffer += memoryview(data).cast("B")
        whole = len(self._buffer) - len(self._buffer) % PIECE_BYTES
        if whole:
            # copies: the buffer is cut while the pieces are still being compressed
            self._emit(bytes(memoryview(self._buffer)[:whole]))
            del self._buffer[:whole]

    def _emit(self, raw: bytes) -> None:
        level = self.compression
        for chunk in iter_pieces(memoryview(raw)):
            if not level:
                self._put(compress_piece(chunk, level))
                continue
            self._pending.append(_piece_pool().submit(compress_piece, chunk, level))
            while len(self._pending) > self._max_pending:
                self._put(self._pending.popleft().result())

    def _put(self, piece: Piece) -> None:
        assert self._handle is not None
        self._handle.write(self._assembler.add(piece.data, piece.crc32, piece.raw_length))

    def __exit__(self, kind: object, error: BaseException | None, trace: object) -> bool | None:
        try:
            if error is None:
                if self._buffer or self._assembler.length + len(self._pending) == 0:
                    self._emit(bytes(self._buffer))
                while self._pending:
                    self._put(self._pending.popleft().result())
                self._handle.write(self._assembler.finish())
        except BaseException as failure:
            self._drop_pending()
            self._context.__exit__(type(failure), failure, failure.__traceback__)
            raise
        self._drop_pending()
        return self._context.__exit__(kind, error, trace)

    def _drop_pending(self) -> None:
        for future in self._pending:
            future.cancel()
        self._pending.clear()


def write_binary(path: Path, array: np.ndarray, compression: int | None) -> None:
    """Write ``array`` as a headerless little-endian binary, gzip-framed when asked."""
    with BinaryStream(path, compression) as stream:
        stream.write(array)
