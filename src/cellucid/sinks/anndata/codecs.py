"""The codecs of a Cellucid-ready AnnData store: what each chunk goes through before it is stored.

Each codec is a small frozen object that knows how it is declared in each container (Zarr v2
``.zarray``, Zarr v3 ``zarr.json``, HDF5 dataset options) and encodes a chunk's bytes itself,
so chunks are compressed on our own threads and stored directly (the direct-chunk path)
instead of through zarr-python or HDF5's single-threaded filters. A :class:`CodecChain` is the
sequence one array's chunks go through, modelled on zarr-python 3's: one array-to-bytes codec
(:class:`Bytes` or :class:`VlenUtf8`), then bytes-to-bytes codecs.

Every chunk is DEFLATE-compressed, which browsers inflate natively. Every array of values
wider than one byte is byte-shuffled first -- except the expression values (``X/data``, a
dense ``X``), which repeat whole and compress best unshuffled (upstream measured shuffled
real expression values 14-45% larger, and shuffled gene indices a third smaller). Zarr v2
shuffles with a ``shuffle`` filter; Zarr v3 has no shuffle codec in its specification, so a
shuffled v3 array is compressed with ``blosc`` (byte shuffle, then zlib per block); HDF5 uses
its own shuffle filter.

Any valid DEFLATE stream is readable, so the bytes need not match upstream's; they only must
not vary from run to run or host to host: gzip members carry a zero time and an "unknown" OS,
and Blosc compresses in the calling thread.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import deflate as libdeflate
import numpy as np
from isal import isal_zlib
from zlib_ng import zlib_ng

from .layout import DEFLATE_LEVEL

JSON = dict[str, Any]

#: gzip member header: magic, deflate, no flags, mtime 0, no extra flags, OS 255 ("unknown",
#: as Python's gzip writes it): nothing of the time or host of writing.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


class Codec(Protocol):
    """One step of a chunk's encoding."""

    def encode(self, data: Any) -> Any:
        """Encode ``data`` (an array for the first codec of a chain, bytes after it)."""

    def zarr_v2(self) -> JSON | None:
        """Configuration in a Zarr v2 ``.zarray`` (``None``: implicit in the dtype)."""

    def zarr_v3(self) -> JSON:
        """Configuration in a Zarr v3 ``zarr.json`` ``codecs`` list."""

    def hdf5(self) -> JSON:
        """``h5py`` dataset creation options."""


def _unsupported(codec: object, container: str) -> Any:
    raise ValueError(f"{type(codec).__name__} cannot be declared in {container}")


@dataclass(frozen=True)
class Bytes:
    """Numeric values as their little-endian bytes (Zarr v3's ``bytes`` serializer).

    ``endian`` is ``None`` for one-byte types, which zarr-python declares without it.
    """

    endian: str | None = "little"

    def encode(self, data: np.ndarray) -> memoryview:
        little = np.ascontiguousarray(data, dtype=data.dtype.newbyteorder("<"))
        return memoryview(little).cast("B")

    def zarr_v2(self) -> JSON | None:
        return None  # Zarr v2 states the byte order in the dtype ("<f4")

    def zarr_v3(self) -> JSON:
        if self.endian is None:
            return {"name": "bytes"}
        return {"name": "bytes", "configuration": {"endian": self.endian}}

    def hdf5(self) -> JSON:
        return {}


@dataclass(frozen=True)
class VlenUtf8:
    """Strings as variable-length UTF-8 (numcodecs' ``vlen-utf8``; Zarr v3's same codec)."""

    def encode(self, data: np.ndarray) -> bytes:
        return _vlen_utf8().encode(np.asarray(data, dtype=object))

    def zarr_v2(self) -> JSON | None:
        return {"id": "vlen-utf8"}

    def zarr_v3(self) -> JSON:
        return {"name": "vlen-utf8", "configuration": {}}

    def hdf5(self) -> JSON:
        return _unsupported(self, "HDF5 (h5py stores strings itself)")


@lru_cache(maxsize=1)
def _vlen_utf8() -> Any:
    from numcodecs import VLenUTF8

    return VLenUTF8()


@dataclass(frozen=True)
class Shuffle:
    """Byte shuffle: every value's first byte, then every second byte, ...

    The same transposition as HDF5's shuffle filter and numcodecs' ``Shuffle``.
    """

    elementsize: int

    def encode(self, data: Any) -> bytes:
        planes = np.frombuffer(data, dtype=np.uint8).reshape(-1, self.elementsize)
        return planes.T.tobytes()

    def zarr_v2(self) -> JSON | None:
        return {"id": "shuffle", "elementsize": self.elementsize}

    def zarr_v3(self) -> JSON:
        return _unsupported(self, "Zarr v3 (use Blosc)")

    def hdf5(self) -> JSON:
        return {"shuffle": True}


#: Bytes of a chunk compressed both ways to choose how the whole chunk is compressed: four
#: slices at its quarters, so every byte plane of a shuffled chunk is in the sample.
SAMPLE_BYTES = 1 << 14
#: The thorough encoding is kept where it makes the sample at least this much smaller than
#: the fast one.
THOROUGH_GAIN = 0.98
#: ISA-L's level of the fast encoding (its levels are 0-3).
FAST_LEVEL = 2


def _thorough(data: memoryview, level: int, wbits: int) -> bytes:
    """libdeflate at ``level``: smaller streams than zlib's at the same level, as fast."""
    if wbits < 0:
        return libdeflate.deflate_compress(data, level)
    return libdeflate.zlib_compress(data, level)


def _fast(data: memoryview, wbits: int) -> bytes:
    """ISA-L's fast DEFLATE: Huffman coding with a short match search, 5-10x zlib's speed."""
    return isal_zlib.compress(data, FAST_LEVEL, wbits=wbits)


def deflate(data: Any, level: int, wbits: int) -> bytes:
    """A DEFLATE stream of ``data`` (``wbits`` as zlib takes it: 15 zlib, -15 raw).

    Expression values that are not counts (log-normalised floats) hold almost no repeated
    byte strings: a thorough LZ77 search at level 6 finds nothing and costs 5-10 times the
    time of a fast encoder, for the same size within 0.2%. Which of the two pays is decided
    on a sample of :data:`SAMPLE_BYTES` of the chunk (so by the data alone: same bytes every
    run); raw counts, indices and text take the thorough one, libdeflate at ``level``,
    whose streams are smaller than zlib's at the same level. Every stream is standard
    DEFLATE, which any inflater reads whatever encoder or level made it.
    """
    view = memoryview(data).cast("B")
    if view.nbytes >= 4 * SAMPLE_BYTES:
        step, piece = view.nbytes // 4, SAMPLE_BYTES // 4
        sample = memoryview(b"".join(view[at : at + piece] for at in range(0, 4 * step, step)))
        if len(_thorough(sample, level, -15)) > THOROUGH_GAIN * len(_fast(sample, -15)):
            return _fast(view, wbits)
    return _thorough(view, level, wbits)


@dataclass(frozen=True)
class Zlib:
    """A zlib stream: Zarr v2's ``zlib`` compressor, and what HDF5's deflate filter stores."""

    level: int = DEFLATE_LEVEL

    def encode(self, data: Any) -> bytes:
        return deflate(data, self.level, 15)

    def zarr_v2(self) -> JSON | None:
        return {"id": "zlib", "level": self.level}

    def zarr_v3(self) -> JSON:
        return _unsupported(self, "Zarr v3 (use Gzip)")

    def hdf5(self) -> JSON:
        return {"compression": "gzip", "compression_opts": self.level}


@dataclass(frozen=True)
class Gzip:
    """One gzip member (Zarr v3's ``gzip`` codec) with a zero time, so runs write equal bytes."""

    level: int = DEFLATE_LEVEL

    def encode(self, data: Any) -> bytes:
        raw = deflate(data, self.level, -15)
        size = memoryview(data).nbytes
        trailer = struct.pack("<II", zlib_ng.crc32(data), size & 0xFFFFFFFF)
        return b"".join((_GZIP_HEADER, raw, trailer))

    def zarr_v2(self) -> JSON | None:
        return {"id": "gzip", "level": self.level}

    def zarr_v3(self) -> JSON:
        return {"name": "gzip", "configuration": {"level": self.level}}

    def hdf5(self) -> JSON:
        return _unsupported(self, "HDF5 (use Zlib)")


@dataclass(frozen=True)
class Blosc:
    """A Blosc frame (Zarr v3's ``blosc`` codec): byte shuffle and zlib, block by block.

    ``blocksize`` 0 lets Blosc choose (the whole chunk, or 1 MiB blocks of a larger one).
    """

    typesize: int
    cname: str = "zlib"
    clevel: int = DEFLATE_LEVEL
    shuffle: str = "shuffle"
    blocksize: int = 0

    def encode(self, data: Any) -> bytes:
        return _blosc(self).encode(data)

    def zarr_v2(self) -> JSON | None:
        return _unsupported(self, "Zarr v2 (use Shuffle and Zlib)")

    def zarr_v3(self) -> JSON:
        configuration = {
            "typesize": self.typesize,
            "cname": self.cname,
            "clevel": self.clevel,
            "shuffle": self.shuffle,
            "blocksize": self.blocksize,
        }
        return {"name": "blosc", "configuration": configuration}

    def hdf5(self) -> JSON:
        return _unsupported(self, "HDF5")


_BLOSC_SHUFFLE = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}


@lru_cache(maxsize=64)
def _blosc(codec: Blosc) -> Any:
    import numcodecs.blosc

    # Blosc's own threads are off (zarr-python sets the same at import): a chunk is then
    # compressed block after block in the calling thread, deterministically, and our pool
    # provides the parallelism across chunks.
    numcodecs.blosc.use_threads = False
    return numcodecs.blosc.Blosc(
        cname=codec.cname,
        clevel=codec.clevel,
        shuffle=_BLOSC_SHUFFLE[codec.shuffle],
        blocksize=codec.blocksize,
        typesize=codec.typesize,
    )


@dataclass(frozen=True)
class CodecChain:
    """The codecs one array's chunks go through, array-to-bytes first."""

    codecs: tuple[Codec, ...]

    def encode(self, chunk: np.ndarray) -> bytes:
        """The stored bytes of one chunk (already padded to the full chunk shape)."""
        data: Any = chunk
        for codec in self.codecs:
            data = codec.encode(data)
        return bytes(data) if not isinstance(data, bytes) else data

    @property
    def strings(self) -> bool:
        """Whether the chain encodes strings."""
        return isinstance(self.codecs[0], VlenUtf8)

    def zarr_v2(self) -> JSON:
        """The ``filters`` and ``compressor`` of a Zarr v2 ``.zarray``."""
        *filters, compressor = self.codecs
        declared = [codec.zarr_v2() for codec in filters]
        declared = [config for config in declared if config is not None]
        return {"filters": declared or None, "compressor": compressor.zarr_v2()}

    def zarr_v3(self) -> list[JSON]:
        """The ``codecs`` list of a Zarr v3 ``zarr.json``."""
        return [codec.zarr_v3() for codec in self.codecs]

    def hdf5(self) -> JSON:
        """``h5py.Group.create_dataset`` options of a chunked dataset."""
        options: JSON = {}
        for codec in self.codecs:
            options.update(codec.hdf5())
        return options


def _shuffled(dtype: np.dtype, shuffle: bool) -> bool:
    return shuffle and dtype.kind != "O" and dtype.itemsize > 1


def zarr_chain(dtype: np.dtype, zarr_format: int, *, shuffle: bool = True) -> CodecChain:
    """The codecs of a Zarr array of ``dtype`` values (``object``: strings).

    ``shuffle`` is false for the expression values alone; one-byte values and strings are
    never shuffled.
    """
    dtype = np.dtype(dtype)
    deflate: Codec = Zlib() if zarr_format == 2 else Gzip()
    if dtype.kind == "O":
        return CodecChain((VlenUtf8(), deflate))
    serializer = Bytes("little" if dtype.itemsize > 1 else None)
    if not _shuffled(dtype, shuffle):
        return CodecChain((serializer, deflate))
    if zarr_format == 2:
        return CodecChain((serializer, Shuffle(dtype.itemsize), deflate))
    return CodecChain((serializer, Blosc(typesize=dtype.itemsize)))


def hdf5_chain(dtype: np.dtype, *, shuffle: bool = True) -> CodecChain:
    """The codecs of a chunked HDF5 dataset of numeric ``dtype`` values: shuffle, deflate."""
    dtype = np.dtype(dtype)
    if dtype.kind == "O":
        raise ValueError("HDF5 string datasets are written by h5py, not by a codec chain")
    if _shuffled(dtype, shuffle):
        return CodecChain((Bytes(), Shuffle(dtype.itemsize), Zlib()))
    return CodecChain((Bytes(), Zlib()))
