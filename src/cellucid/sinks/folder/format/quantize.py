"""Quantization of continuous values (obs fields, outlier quantiles, genes)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cellucid.sinks.folder.format.codecs import Float32, Quantize


@dataclass(frozen=True)
class Range:
    """The min and max of the valid (finite) values over all cells, as the spec defines.

    No valid value gives (0, 1); a constant field gives (v, v + 1).
    """

    lo: float
    hi: float

    @classmethod
    def from_extrema(cls, lo: float, hi: float) -> Range:
        """Build from raw extrema; ``lo > hi`` (or NaN) means no valid value was seen."""
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
            return cls(0.0, 1.0)
        if lo == hi:
            return cls(float(lo), float(lo) + 1.0)
        return cls(float(lo), float(hi))


def missing_marker(bits: int) -> int:
    """The code of a missing value at ``bits`` (8 or 16): the format's missing marker."""
    return Quantize(bits).missing


def finite_or_nan(values: np.ndarray) -> np.ndarray:
    """float32 copy of ``values`` with +Inf and -Inf replaced by NaN."""
    out = np.array(values, dtype=Float32.dtype, copy=True)
    out[np.isinf(out)] = np.nan
    return out


def quantize(values: np.ndarray, value_range: Range, bits: int) -> np.ndarray:
    """Quantize with rounding; NaN and Inf become the missing marker.

    ``q = round((v - lo) * steps / (hi - lo))`` clipped to ``0..steps``.
    """
    return quantize_rows(values, np.float64(value_range.lo), np.float64(value_range.hi), bits)


def quantize_rows(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, bits: int) -> np.ndarray:
    """Quantize an array whose rows have their own ranges (``lo``/``hi`` broadcast).

    The arithmetic is float64, element by element, so the result does not depend on how
    the cells were chunked.
    """
    codec = Quantize(bits)
    n_steps = codec.steps
    v = np.asarray(values, dtype=np.float64)
    valid = np.isfinite(v)
    scaled = (v - lo) * n_steps / (hi - lo)
    np.rint(scaled, out=scaled)
    np.clip(scaled, 0, n_steps, out=scaled)
    scaled[~valid] = codec.missing
    return scaled.astype(codec.dtype)


def dequantize(codes: np.ndarray, value_range: Range, bits: int) -> np.ndarray:
    """Decode as the viewer does: ``lo + q * (hi - lo) / steps``; the marker is NaN."""
    codec = Quantize(bits)
    step = (value_range.hi - value_range.lo) / codec.steps
    out = value_range.lo + codes.astype(np.float64) * step
    out[codes == codec.missing] = np.nan
    return out


def encode_values(values: np.ndarray, value_range: Range | None, bits: int | None) -> np.ndarray:
    """The stored array of a continuous column: float32 (Inf as NaN) or quantized codes."""
    if bits is None:
        return finite_or_nan(values)
    assert value_range is not None
    return quantize(values, value_range, bits)


def valid_extrema(values: np.ndarray) -> tuple[float, float]:
    """(min, max) of the finite values; (inf, -inf) when there is none."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return (np.inf, -np.inf)
    return (float(v.min()), float(v.max()))
