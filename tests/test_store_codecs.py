"""Codecs and layout rules of the Cellucid-ready AnnData store: each codec's declarations and
its chunk bytes, decoded by the reference decoders (zlib, gzip, numcodecs)."""

from __future__ import annotations

import gzip
import zlib

import numcodecs
import numpy as np
import pytest

from cellucid.sinks.anndata.codecs import (
    Blosc,
    Bytes,
    CodecChain,
    Gzip,
    Shuffle,
    VlenUtf8,
    Zlib,
    hdf5_chain,
    zarr_chain,
)
from cellucid.sinks.anndata.layout import (
    chunk_extent,
    grid_positions,
    indices_dtype,
    indptr_dtype,
    row_chunks,
    strip_chunks,
    vector_chunks,
)

VALUES = np.random.default_rng(0).integers(0, 1000, 5000).astype(np.int32)


def test_chunk_rules():
    assert vector_chunks(0) == (1,) and vector_chunks(5) == (5,)
    assert vector_chunks(10**6) == (2**18,) and vector_chunks(10**6, 2**16) == (2**16,)
    assert row_chunks((300, 5)) == (300, 5) and row_chunks((10**6, 3)) == (87381, 3)
    assert row_chunks((10, 0)) == (10, 1)
    assert strip_chunks((700, 765)) == (700, 374)
    assert strip_chunks((10**6, 10)) == (2**18, 1) and strip_chunks((5, 10**6)) == (5, 52428)


def test_index_types():
    assert indptr_dtype(2**31 - 1) == np.int32 and indptr_dtype(2**31) == np.int64
    assert indices_dtype(2**31 - 1) == np.int32 and indices_dtype(2**31) == np.int64


def test_grid():
    assert list(grid_positions((5, 3), (2, 2))) == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    assert list(grid_positions((), ())) == [()]
    assert list(grid_positions((0,), (1,))) == []
    assert chunk_extent((2, 1), (2, 2), (5, 3)) == (1, 1)


def test_shuffle_is_numcodecs_shuffle():
    raw = VALUES.tobytes()
    assert Shuffle(4).encode(raw) == bytes(numcodecs.Shuffle(elementsize=4).encode(raw))
    assert Shuffle(4).zarr_v2() == {"id": "shuffle", "elementsize": 4}
    assert Shuffle(4).hdf5() == {"shuffle": True}


def test_zlib_stream():
    encoded = Zlib(6).encode(VALUES.tobytes())
    assert zlib.decompress(encoded) == VALUES.tobytes()
    assert numcodecs.Zlib(6).decode(encoded) == VALUES.tobytes()
    assert Zlib(6).zarr_v2() == {"id": "zlib", "level": 6}
    assert Zlib(6).hdf5() == {"compression": "gzip", "compression_opts": 6}


def test_gzip_member_is_reproducible():
    encoded = Gzip(6).encode(VALUES.tobytes())
    assert gzip.decompress(encoded) == VALUES.tobytes()
    assert bytes(numcodecs.GZip(6).decode(encoded)) == VALUES.tobytes()
    assert encoded[4:8] == b"\0\0\0\0" and encoded[9] == 255  # no time, no host
    assert Gzip(6).encode(memoryview(VALUES).cast("B")) == encoded
    assert Gzip(6).zarr_v3() == {"name": "gzip", "configuration": {"level": 6}}


def test_blosc_frame():
    codec = Blosc(typesize=4)
    raw = np.arange(2**20, dtype=np.int32).tobytes()  # 4 MiB: several blocks
    encoded = codec.encode(raw)
    assert encoded == codec.encode(raw)
    assert numcodecs.Blosc().decode(encoded) == raw
    assert encoded[3] == 4  # the header's typesize
    assert codec.zarr_v3() == {
        "name": "blosc",
        "configuration": {
            "typesize": 4,
            "cname": "zlib",
            "clevel": 6,
            "shuffle": "shuffle",
            "blocksize": 0,
        },
    }


def test_vlen_utf8():
    strings = np.array(["a", "", "ünï", "x" * 300], dtype=object)
    decoded = numcodecs.VLenUTF8().decode(VlenUtf8().encode(strings))
    np.testing.assert_array_equal(decoded, strings)
    assert VlenUtf8().zarr_v2() == {"id": "vlen-utf8"}
    assert VlenUtf8().zarr_v3() == {"name": "vlen-utf8", "configuration": {}}


def test_bytes_serializer():
    big = VALUES.astype(">i4")
    assert bytes(Bytes().encode(big)) == VALUES.tobytes()
    assert Bytes().zarr_v3() == {"name": "bytes", "configuration": {"endian": "little"}}
    assert Bytes(None).zarr_v3() == {"name": "bytes"}


def test_zarr_v2_chains():
    zlib6 = {"id": "zlib", "level": 6}
    assert zarr_chain(np.float32, 2, shuffle=False).zarr_v2() == {
        "filters": None,
        "compressor": zlib6,
    }
    assert zarr_chain(np.int32, 2).zarr_v2()["filters"] == [{"id": "shuffle", "elementsize": 4}]
    assert zarr_chain(np.bool_, 2).zarr_v2()["filters"] is None
    assert zarr_chain(np.int8, 2).zarr_v2()["filters"] is None
    assert zarr_chain(object, 2).zarr_v2() == {
        "filters": [{"id": "vlen-utf8"}],
        "compressor": zlib6,
    }


def test_zarr_v3_chains():
    gzip6 = {"name": "gzip", "configuration": {"level": 6}}
    little = {"name": "bytes", "configuration": {"endian": "little"}}
    assert zarr_chain(np.float32, 3, shuffle=False).zarr_v3() == [little, gzip6]
    assert zarr_chain(np.float64, 3).zarr_v3()[1]["configuration"]["typesize"] == 8
    assert zarr_chain(np.bool_, 3).zarr_v3() == [{"name": "bytes"}, gzip6]
    assert zarr_chain(object, 3).zarr_v3() == [VlenUtf8().zarr_v3(), gzip6]


def test_hdf5_chains():
    assert hdf5_chain(np.int32).hdf5() == {
        "shuffle": True,
        "compression": "gzip",
        "compression_opts": 6,
    }
    assert hdf5_chain(np.float32, shuffle=False).hdf5() == {
        "compression": "gzip",
        "compression_opts": 6,
    }
    assert "shuffle" not in hdf5_chain(np.uint8).hdf5()
    with pytest.raises(ValueError):
        hdf5_chain(object)


def test_chain_encodes_as_declared():
    """A shuffled chunk through the v2 and HDF5 chains: shuffle, then one zlib stream."""
    for chain in (zarr_chain(np.int32, 2), hdf5_chain(np.int32)):
        raw = zlib.decompress(chain.encode(VALUES))
        np.testing.assert_array_equal(
            np.frombuffer(raw, np.uint8).reshape(4, -1).T.copy().view(np.int32).ravel(), VALUES
        )
    v3 = zarr_chain(np.int32, 3).encode(VALUES)
    assert numcodecs.Blosc().decode(v3) == VALUES.tobytes()


def test_declaring_a_codec_where_it_does_not_exist_fails():
    with pytest.raises(ValueError):
        Shuffle(4).zarr_v3()
    with pytest.raises(ValueError):
        Blosc(4).zarr_v2()
    with pytest.raises(ValueError):
        CodecChain((Bytes(), Gzip())).hdf5()
