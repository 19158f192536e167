"""How the export stores its values: one small frozen codec per way of storing them.

As in zarr-python 3's ``codecs/``, a codec owns what the format says about one encoding:
the stored dtype, the file extension that manifests and file names use, and the missing
marker. The planner names files with it, the writers encode with it, the manifests
describe files with it and the validator reads them back with it, so none of these is
spelled anywhere else.

- :class:`Float32`: continuous values unquantized (infinities stored as NaN);
- :class:`Quantize`: continuous values as 8- or 16-bit codes of a range (``Quantize(8)``);
- :class:`Codes`: category codes (``Codes("uint8")``);
- :class:`Gzip`: the optional gzip framing of every binary (``Gzip(6)``; ``Gzip(None)``
  writes plain files).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from cellucid.sinks.folder.format.codes import MISSING_MARKER, encode_codes


def _ext(dtype: np.dtype) -> str:
    """``f32``, ``u8`` or ``u16``: the extension of a stored dtype."""
    return f"{dtype.kind}{dtype.itemsize * 8}"


@dataclass(frozen=True)
class Float32:
    """Continuous values as float32; a missing value is NaN (infinities become NaN)."""

    dtype: ClassVar[np.dtype] = np.dtype("float32")
    ext: ClassVar[str] = _ext(np.dtype("float32"))
    #: quantization bits (none: values are stored as they are)
    bits: ClassVar[None] = None


@dataclass(frozen=True)
class Quantize:
    """Continuous values as ``bits``-bit codes of their range ``[lo, hi]``.

    Codes ``0..steps`` cover the range; the largest code of the dtype is the missing
    marker (NaN and infinities).
    """

    bits: int

    def __post_init__(self) -> None:
        if self.bits not in (8, 16):
            raise ValueError(f"quantization bits must be 8 or 16, got {self.bits!r}")

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(f"uint{self.bits}")

    @property
    def ext(self) -> str:
        return _ext(self.dtype)

    @property
    def missing(self) -> int:
        return MISSING_MARKER[self.dtype.name]

    @property
    def steps(self) -> int:
        """Number of quantization steps: 254 for 8 bits, 65534 for 16 bits."""
        return self.missing - 1


@dataclass(frozen=True)
class Codes:
    """Category codes in ``dtype`` (uint8 or uint16); a missing category is the marker."""

    name: str

    def __post_init__(self) -> None:
        if self.name not in MISSING_MARKER:
            raise ValueError(f"category codes are uint8 or uint16, got {self.name!r}")

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.name)

    @property
    def ext(self) -> str:
        return _ext(self.dtype)

    @property
    def missing(self) -> int:
        return MISSING_MARKER[self.name]

    def encode(self, codes: np.ndarray) -> np.ndarray:
        """Stored codes: a missing category (-1) becomes the missing marker."""
        return encode_codes(codes, self.name)


@dataclass(frozen=True)
class Gzip:
    """The framing of a binary: one gzip member at ``level``, or plain when it is None/0."""

    level: int | None
    #: the suffix of a gzip-framed file
    SUFFIX: ClassVar[str] = ".gz"

    @property
    def suffix(self) -> str:
        """``".gz"`` when the binaries are compressed, else ``""``."""
        return self.SUFFIX if self.level else ""


ValueCodec = Float32 | Quantize
#: every way a continuous value may be stored
VALUE_CODECS: tuple[ValueCodec, ...] = (Float32(), Quantize(8), Quantize(16))


def value_codec(bits: int | None) -> ValueCodec:
    """The codec of continuous values for a quantization setting (None, 8 or 16)."""
    return Float32() if bits is None else Quantize(bits)


def value_codec_of(dtype: object) -> ValueCodec | None:
    """The codec of continuous values stored as ``dtype`` (a name), or None if none is."""
    return next((c for c in VALUE_CODECS if c.dtype.name == dtype), None)
