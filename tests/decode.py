"""Reading an export back, for the tests: binaries (plain or gzip) and manifests."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import numpy as np


def read_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        assert_single_member(raw, path)
        return gzip.decompress(raw)
    return raw


def assert_single_member(raw: bytes, path: Path) -> None:
    """Exactly one gzip member, mtime 0, no file name, that decodes completely."""
    assert raw[:3] == b"\x1f\x8b\x08", path
    assert raw[3] & 0x08 == 0, f"{path}: gzip header has a file name"
    assert raw[4:8] == b"\0\0\0\0", f"{path}: gzip header has an mtime"
    decoder = zlib.decompressobj(wbits=31)
    decoder.decompress(raw)
    assert decoder.eof, f"{path}: truncated gzip"
    assert decoder.unused_data == b"", f"{path}: more than one gzip member"


def read_array(path: Path, dtype: str, width: int | None = None) -> np.ndarray:
    array = np.frombuffer(read_bytes(path), dtype=np.dtype(dtype).newbyteorder("<"))
    return array.reshape(-1, width) if width else array


def read_json(path: Path) -> dict:
    def refuse(token: str) -> None:
        raise AssertionError(f"{path}: non-strict JSON token {token}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def dequantize(codes: np.ndarray, lo: float, hi: float, bits: int) -> np.ndarray:
    steps = 254 if bits == 8 else 65534
    values = lo + codes.astype(np.float64) * (hi - lo) / steps
    values[codes == (255 if bits == 8 else 65535)] = np.nan
    return values
