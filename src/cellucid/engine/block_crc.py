"""The CRC-32 of one block of an input, as the export record keeps it."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from zlib_ng import zlib_ng


def block_crc(block: Any) -> int:
    """CRC-32 of a block's shape, dtype and values (sparse blocks in canonical CSR form).

    Sparse index arrays are hashed as int64 whatever their stored width: scipy picks 32 or
    64 bits by size when it slices or stacks, so the same data may come either way.
    """
    if sp.issparse(block):
        csr = sp.csr_matrix(block)
        if not csr.has_canonical_format:
            # never sort the caller's block in place: pass one reads it after us
            csr = csr.copy()
            csr.sum_duplicates()
        parts = [_as_int64(csr.indptr), _as_int64(csr.indices), csr.data]
        head = f"csr{csr.shape}{csr.data.dtype.str}"
    else:
        array = np.ascontiguousarray(np.asarray(block))
        parts = [array]
        head = f"dense{array.shape}{array.dtype.str}"
    crc = zlib_ng.crc32(head.encode())
    for part in parts:
        crc = zlib_ng.crc32(memoryview(np.ascontiguousarray(part)).cast("B"), crc)
    return crc


def _as_int64(index: np.ndarray) -> np.ndarray:
    return index if index.dtype == np.int64 else index.astype(np.int64)


def combine_block_crcs(crcs: list[int]) -> int:
    """One checksum for a row of blocks (a block of rows cut into slabs of columns)."""
    return zlib_ng.crc32(np.asarray(crcs, dtype=np.int64).tobytes())
