"""The missing marker of the format, and category codes as they are stored.

A missing value is stored as the largest value of its unsigned dtype, in quantized values
(NaN and Inf) and category codes (a missing category) alike.
"""

from __future__ import annotations

import numpy as np

#: the missing marker of each codes dtype
MISSING_MARKER: dict[str, int] = {"uint8": 255, "uint16": 65535}


def encode_codes(codes: np.ndarray, dtype: str) -> np.ndarray:
    """Stored codes: missing (-1) becomes the missing marker of ``dtype``."""
    out = codes.astype(np.int64)
    out[out < 0] = MISSING_MARKER[dtype]
    return out.astype(dtype)
