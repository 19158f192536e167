"""The CRC-32 of one block of an input, as the export record keeps it."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from zlib_ng import zlib_ng

from cellucid.engine.csr_extrema import canonical_csr


def block_crc(block: Any) -> int:
    """CRC-32 of a block's shape, dtype and values (sparse blocks in canonical CSR form).

    Sparse index arrays are hashed as int64 whatever their stored width: scipy picks 32 or
    64 bits by size when it slices or stacks, so the same data may come either way.
    """
    if sp.issparse(block):
        csr = canonical_csr(block)
        parts = [csr.indptr, csr.indices, csr.data]
        head = f"csr{csr.shape}{csr.data.dtype.str}"
    else:
        array = np.ascontiguousarray(np.asarray(block))
        parts = [array]
        head = f"dense{array.shape}{array.dtype.str}"
    crc = zlib_ng.crc32(head.encode())
    for i, part in enumerate(parts):
        crc = _crc_of(part, crc, as_int64=sp.issparse(block) and i < 2)
    return crc


# Values widened to int64 at a time: a whole block's indices as int64 would double their
# memory while pass one holds the block.
_WIDEN_ITEMS = 1 << 20


def _crc_of(array: np.ndarray, crc: int, as_int64: bool) -> int:
    """``crc`` continued over ``array``'s bytes (as int64 when asked), in slices."""
    array = np.ascontiguousarray(array)
    if not as_int64 or array.dtype == np.int64:
        return zlib_ng.crc32(memoryview(array).cast("B"), crc)
    for start in range(0, len(array), _WIDEN_ITEMS):
        wide = array[start : start + _WIDEN_ITEMS].astype(np.int64)
        crc = zlib_ng.crc32(memoryview(wide).cast("B"), crc)
    return crc


def combine_block_crcs(crcs: list[int]) -> int:
    """One checksum for a row of blocks (a block of rows cut into slabs of columns)."""
    return zlib_ng.crc32(np.asarray(crcs, dtype=np.int64).tobytes())
