"""Reading a binary of an export: plain, or exactly one gzip member that decodes."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from cellucid.sinks.folder.format.codecs import Gzip

READ_BYTES = 1 << 22


class PayloadError(ValueError):
    """A binary that cannot be decoded as the format requires."""


def read_payload(path: Path) -> bytes:
    """The decoded bytes of a binary; gzip must be one complete member, nothing after it."""
    if path.suffix != Gzip.SUFFIX:
        return path.read_bytes()
    decoder = zlib.decompressobj(wbits=31)
    parts = []
    with open(path, "rb") as handle:
        head = handle.read(10)
        if head[:3] != b"\x1f\x8b\x08":
            raise PayloadError(f"{path.name}: not a gzip file")
        chunk = head
        while chunk:
            try:
                parts.append(decoder.decompress(chunk))
            except zlib.error as error:
                raise PayloadError(f"{path.name}: corrupt gzip data ({error})") from None
            if decoder.eof:
                rest = decoder.unused_data + handle.read()
                if rest:
                    raise PayloadError(
                        f"{path.name}: {len(rest)} bytes after the first gzip member; the viewer "
                        "reads only one member"
                    )
                break
            chunk = handle.read(READ_BYTES)
    if not decoder.eof:
        raise PayloadError(f"{path.name}: truncated gzip (the stream ends before its end)")
    return b"".join(parts)


def read_values(path: Path, dtype: str, count: int) -> np.ndarray:
    """The values of a binary, checking that it holds exactly ``count`` of them."""
    raw = read_payload(path)
    itemsize = np.dtype(dtype).itemsize
    if len(raw) != count * itemsize:
        raise PayloadError(
            f"{path.name}: {len(raw)} bytes, expected {count} × {itemsize} = {count * itemsize}"
        )
    return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"))
