"""Single-member gzip files assembled from independently compressed pieces.

A gzip member is a header, one deflate stream and a trailer (CRC-32 and length of the
uncompressed data). Each piece is compressed on its own as raw deflate ending in a sync
flush (byte aligned, not final), so pieces made by different tasks, at different times,
concatenate into one valid deflate stream; an empty final block ends it. The CRC-32 of
the whole is combined from the pieces' CRCs. This is how pigz parallelises gzip.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from zlib_ng import zlib_ng

# mtime 0, no file name, no extra flags, OS "unknown": the same input gives the same bytes.
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
# A final fixed-Huffman block holding only the end-of-block code.
FINAL_EMPTY_BLOCK = b"\x03\x00"


@dataclass(frozen=True)
class Piece:
    """One compressed (or raw) piece of a file and what the trailer needs of it."""

    data: bytes
    crc32: int
    raw_length: int


def compress_piece(raw: bytes | memoryview, level: int | None) -> Piece:
    """Compress ``raw`` as a self-contained deflate piece (``level=None``: keep it raw)."""
    crc = zlib_ng.crc32(raw)
    if not level:
        return Piece(bytes(raw), crc, len(raw))
    compressor = zlib_ng.compressobj(level, zlib_ng.DEFLATED, -15)
    data = compressor.compress(raw) + compressor.flush(zlib_ng.Z_SYNC_FLUSH)
    return Piece(data, crc, len(raw))


def combine_crc(crc_a: int, crc_b: int, length_b: int) -> int:
    """CRC-32 of ``a + b`` from the CRCs of ``a`` and ``b`` and the length of ``b``."""
    return zlib_ng.crc32_combine(crc_a, crc_b, length_b)


def trailer(crc: int, total_length: int) -> bytes:
    """The gzip trailer: CRC-32 and length modulo 2**32, little-endian."""
    return struct.pack("<II", crc & 0xFFFFFFFF, total_length & 0xFFFFFFFF)


class MemberAssembler:
    """Frames a sequence of pieces as one gzip member (or raw bytes without compression).

    Call :meth:`start`, then :meth:`add` for each piece in order, then :meth:`finish`;
    each returns the bytes to append to the file.
    """

    def __init__(self, compressed: bool) -> None:
        self.compressed = compressed
        self.crc = 0
        self.length = 0

    def start(self) -> bytes:
        return GZIP_HEADER if self.compressed else b""

    def add(self, data: bytes | memoryview, crc: int, raw_length: int) -> bytes | memoryview:
        self.crc = combine_crc(self.crc, crc, raw_length)
        self.length += raw_length
        return data

    def finish(self) -> bytes:
        if not self.compressed:
            return b""
        return FINAL_EMPTY_BLOCK + trailer(self.crc, self.length)
